import Foundation

/// A real browser for login tests: Debian's `chromium`, driven through `chromedriver` (Debian's
/// `chromium-driver`) by PyPI `selenium`, headless, in a fresh profile that is deleted afterwards.
/// One `browse` is one browser session (its cookies live as long as the call), so a test hands it
/// the whole walk as steps and checks the pages it returns.
///
/// Only loopback is reached: `*.localhost` resolves to 127.0.0.1, every other name (a CDN
/// stylesheet, Chrome's own background calls) to nothing, and 127.0.0.1 stays itself.
/// Chromium runs without its sandbox: CI runs the tests as root, where it refuses to start otherwise.
public enum HeadlessChromium {
    static let requirement = "selenium==4.51.0"
    static let browser = "/usr/bin/chromium"
    static let driver = "/usr/bin/chromedriver"

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// What the browser does next.
    public enum Step: Sendable {
        /// Types a page's URL into the address bar.
        case visit(String)
        /// Fills the current page's form fields by `name` and presses its submit button, then waits
        /// until the next page has loaded.
        case submit([String: String])
    }

    /// Where a step left the browser.
    public struct Page: Sendable {
        /// The URL shown once every redirect was followed.
        public let url: String
        /// The page's text, as a person would read it (a JSON body as it was sent).
        public let text: String
        /// Every document the step loaded over the network, in order, redirects included (`METHOD URL`).
        public let navigations: [String]
        /// The names of the cookies the browser holds for the page's host (HttpOnly ones too).
        public let cookies: [String]
    }

    /// Runs the steps in one fresh browser; throws `Unavailable` when Chromium, its driver or
    /// selenium is missing, and a description of the failed step (with the page it was on) otherwise.
    public static func browse(_ steps: [Step]) async throws -> [Page] {
        for (path, package) in [(browser, "chromium"), (driver, "chromium-driver")] where !FileManager.default.isExecutableFile(atPath: path) {
            throw Unavailable(description: "\(path) is missing: install Debian's \(package) (apt-get install chromium chromium-driver; .ci/run does)")
        }
        try await PythonPackages.ensure(module: "selenium", requirement: requirement)
        let encoded = steps.map { step -> [String: Any] in
            switch step {
            case .visit(let url): ["visit": url]
            case .submit(let fields): ["submit": fields]
            }
        }
        let arguments = String(decoding: try JSONSerialization.data(withJSONObject: encoded), as: UTF8.self)
        let (_, output) = try await PythonPackages.runOffPool(["python3", "-c", script, arguments, browser, driver])
        guard let object = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw Unavailable(description: "the selenium script printed no result: \(output.prefix(2000))")
        }
        let pages = (object["pages"] as? [[String: Any]] ?? []).map { page in
            Page(
                url: page["url"] as? String ?? "", text: page["text"] as? String ?? "",
                navigations: page["navigations"] as? [String] ?? [], cookies: page["cookies"] as? [String] ?? [])
        }
        guard object["ok"] as? Bool == true else {
            let failure = object["error"] as? String ?? "failed"
            throw Unavailable(description: "step \(pages.count + 1) failed: \(failure) (at \(object["url"] as? String ?? "?"): \(object["text"] as? String ?? ""))")
        }
        return pages
    }

    /// The walk, in Python. Waits are on the browser's state (the old page gone, the new one
    /// loaded), never on time; the 30 s bounds only turn a hang into a failure.
    static let script = #"""
        import json, shutil, sys, tempfile
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        steps, browser, driver_path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
        profile = tempfile.mkdtemp(prefix="gatehouse-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-default-apps", "--disable-extensions",
                         "--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]:
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})

        def navigations(driver):
            loaded = []
            for entry in driver.get_log("performance"):
                message = json.loads(entry["message"])["message"]
                if message["method"] == "Network.requestWillBeSent" and message["params"].get("type") == "Document":
                    request = message["params"]["request"]
                    if request["url"].startswith(("http:", "https:")):  # not the browser's own chrome:// pages
                        loaded.append(request["method"] + " " + request["url"])
            return loaded

        def loaded(driver):
            return driver.execute_script("return document.readyState") == "complete"

        pages, driver = [], None
        try:
            driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
            driver.set_page_load_timeout(30)
            for step in steps:
                if "visit" in step:
                    driver.get(step["visit"])
                else:
                    # A page can still be replacing its document when the previous step returns (a
                    # provider's page that moves on by itself): the form is found again in the new one.
                    for attempt in range(3):
                        try:
                            WebDriverWait(driver, 30).until(loaded)
                            page = driver.find_element(By.TAG_NAME, "html")
                            for name, value in step["submit"].items():
                                driver.find_element(By.NAME, name).send_keys(value)
                            page.find_element(By.CSS_SELECTOR, "form button[type=submit]:not([name])").click()
                            break
                        except WebDriverException as error:
                            replaced = isinstance(error, StaleElementReferenceException) or "does not belong to the document" in str(error)
                            if not replaced or attempt == 2:
                                raise
                    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))
                    WebDriverWait(driver, 30).until(loaded)
                # A JSON body is shown in a <pre> (Chrome may add its pretty-print control beside it).
                shown = (driver.find_elements(By.TAG_NAME, "pre") or [driver.find_element(By.TAG_NAME, "body")])[0]
                pages.append({"url": driver.current_url, "text": shown.text,
                              "navigations": navigations(driver), "cookies": sorted(c["name"] for c in driver.get_cookies())})
            print(json.dumps({"ok": True, "pages": pages}))
        except Exception as error:
            url = text = None
            try:
                url, text = driver.current_url, driver.find_element(By.TAG_NAME, "body").text[:1000]
            except Exception:
                pass
            print(json.dumps({"ok": False, "error": type(error).__name__ + ": " + str(error)[:1000], "pages": pages, "url": url, "text": text}))
        finally:
            if driver:
                driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        """#
}
