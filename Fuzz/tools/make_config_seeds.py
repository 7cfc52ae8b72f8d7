#!/usr/bin/env python3
"""Writes the config seed corpus (Fuzz/corpus/config): the repo's examples, the YAML documents the
config tests use (multi-line literals without interpolation), and hostile YAML (aliases, nesting,
huge numbers). Each seed is one file as `gatehouse up -f` reads it."""
import glob, os, re, textwrap

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "Fuzz", "corpus", "config")

HOSTILE = {
    "billion-laughs": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)),
    "billion-laughs-in-spec": "apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {name: bomb, namespace: default}\nspec:\n"
        "  x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n" + "".join(
        f"  x{i + 1}: &x{i + 1} [{', '.join([f'*x{i}'] * 10)}]\n" for i in range(8))
        + "  process: {command: *x8}\n  env: *x8\nmetadata2: *x8\n",
    "alias-in-spec": "apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: &m {name: hello, namespace: default}\n"
        "spec:\n  process: {command: &c [python3, hello.py]}\n  env: [{name: A, value: *c}]\n",
    "merge-key": "apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {<<: {name: x}, namespace: default}\n"
        "spec: {process: {command: [a]}}\n",
    "deep-nesting": "apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {name: d}\nspec: " + "[" * 200 + "]" * 200 + "\n",
    "deep-mapping": "apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {name: d}\nspec: " + "{a: " * 100 + "1" + "}" * 100 + "\n",
    "huge-numbers": "apiVersion: gatehouse.dev/v1\nkind: Function\nmetadata: {name: n}\nspec:\n  process: {command: [a]}\n"
        "  scaling: {minInstances: 99999999999999999999999, maxInstances: -9223372036854775809, concurrency: 1e400}\n"
        "  timeout: 99999999999999999h\n  idleTimeout: .inf\n",
    "weights": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: w, namespace: default}\n"
        "spec:\n  hosts: ['*']\n  http:\n  - route:\n    - {destination: {host: a}, weight: 4294967297}\n    - {destination: {host: b}, weight: -1}\n",
    "tags-and-types": "!!map {apiVersion: !!str gatehouse.dev/v1, kind: !custom Function, metadata: {name: !!binary aGVsbG8=}}\n",
    "bom-crlf": "\ufeffapiVersion: gatehouse.dev/v1\r\nkind: Function\r\nmetadata: {name: crlf}\r\nspec: {process: {command: [a]}}\r\n",
    "many-documents": "---\n---\n--- {}\n--- []\n---\nkind: Mesh\n...\n--- # c\n",
}

def literals(swift):
    for block in re.findall(r'"""\n(.*?)\n\s*"""', swift, re.S):
        if "\\(" in block or "kind:" not in block:
            continue
        yield textwrap.dedent(block).replace('\\"', '"').replace("\\\\", "\\")

def main():
    os.makedirs(OUT, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*", "*.yaml"))):
        name = "example-" + os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path)
        with open(path) as f, open(os.path.join(OUT, name), "w") as out:
            out.write(f.read())
    for path in sorted(glob.glob(os.path.join(ROOT, "Tests", "GatehouseConfigTests", "*.swift"))):
        with open(path) as f:
            for index, text in enumerate(literals(f.read())):
                base = os.path.basename(path).removesuffix("Tests.swift")
                with open(os.path.join(OUT, f"test-{base}-{index}.yaml"), "w") as out:
                    out.write(text + "\n")
    for name, text in HOSTILE.items():
        with open(os.path.join(OUT, name + ".yaml"), "w", encoding="utf-8") as out:
            out.write(text)

main()
