"""Replay every vector of this folder through Python `atlasent` 2.18.0.

For each vector: call the 2.18 `AtlaSentClient` method named by `call` with
`sdk_input`, answer its requests with the vector's replies, and check that
(1) each request 2.18 sends is the vector's `wire_request`, and (2) what
2.18 returns or raises is what the vector's `python_2_18` records. Where
our SDK deliberately sends something else, `python_2_18.wire_request` is
what 2.18 sends instead (single-request vectors only). This is
how the vectors are known to be 2.18's wire and not a guess.

Run it with the 2.18 venv's python (no network needed):

    python -m venv /tmp/py218 && /tmp/py218/bin/pip install atlasent==2.18.0
    /tmp/py218/bin/python tests/contract/vectors/current/check_against_2_18.py
"""

import json
import os
import re
import pathlib
import sys
import warnings
from urllib.parse import parse_qsl

import httpx

os.environ["ATLASENT_ALLOW_INSECURE_HTTP"] = "1"

import atlasent  # noqa: E402
from atlasent import AtlaSentClient  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RID = "{{request_id}}"


def substitute(value, request_id):
    if isinstance(value, str):
        return value.replace(RID, request_id)
    if isinstance(value, list):
        return [substitute(v, request_id) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, request_id) for k, v in value.items()}
    return value


def exchanges(vector):
    if "exchanges" in vector:
        return vector["exchanges"]
    return [{"wire_request": vector["wire_request"], "wire_response": vector["wire_response"]}]


HEADERS = json.loads((HERE / "headers.json").read_text(encoding="utf-8"))


def header_problems(request, api_key):
    """What `request` lacks of headers.json."""
    problems = []
    for spec in HEADERS["required_headers"]:
        name = spec["name"]
        if spec.get("when") == "body" and not request.content:
            continue
        got = request.headers.get(name)
        if got is None:
            problems.append(f"header {name} missing")
        elif "value" in spec and got != spec["value"]:
            problems.append(f"header {name} is {got!r}")
        elif "value_template" in spec and got != spec["value_template"].replace("<api_key>", api_key):
            problems.append(f"header {name} is not the template")
        elif "value_pattern" in spec and not re.search(spec["value_pattern"], got):
            problems.append(f"header {name} {got!r} does not match")
    for spec in HEADERS["optional_headers"]:
        got = request.headers.get(spec["name"])
        if got is not None and got != spec["value"]:
            problems.append(f"header {spec['name']} is {got!r}")
    return problems


def as_request(request):
    raw = request.url.raw_path.decode("ascii")
    path, _, query = raw.partition("?")
    body = json.loads(request.content) if request.content else None
    return {
        "method": request.method,
        "path": path,
        "query": [list(p) for p in parse_qsl(query, keep_blank_values=True)],
        "body": body,
    }


def same_request(got, want):
    return (
        got["method"] == want["method"]
        and got["path"] == want["path"]
        and sorted(got["query"]) == sorted(want["query"])
        and got["body"] == want["body"]
    )


def lookup(obj, dotted):
    for part in dotted.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)]
        elif isinstance(obj, dict):
            obj = obj[part]
        else:
            obj = getattr(obj, part)
    return obj


def run(vector):
    """Problems found with one vector, as strings."""
    problems = []
    script = exchanges(vector)
    sent = []

    api_key = "ask_test_vectors"

    def handler(request):
        index = len(sent)
        sent.append(as_request(request))
        problems.extend(f"request {index}: {p}" for p in header_problems(request, api_key))
        if index >= len(script):
            return httpx.Response(500, json={"message": "unexpected request"})
        reply = script[index]["wire_response"]
        request_id = request.headers.get("x-request-id", "")
        return httpx.Response(
            reply["status"],
            headers=substitute(reply.get("headers") or {}, request_id),
            json=substitute(reply["body"], request_id),
        )

    client = AtlaSentClient(api_key=api_key, base_url="http://vectors.invalid", max_retries=0)
    client._client._transport = httpx.MockTransport(handler)
    kwargs = dict(vector["sdk_input"])
    if "from" in kwargs:
        kwargs["from_"] = kwargs.pop("from")
    expected = vector["python_2_18"]
    result = error = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            result = getattr(client, vector["call"])(**kwargs)
        except Exception as exc:  # noqa: BLE001 — recorded and compared below
            error = exc

    want_sent = expected.get("requests_sent", len(script))
    if len(sent) != want_sent:
        problems.append(f"2.18 sent {len(sent)} requests, the vector says {want_sent}")
    for i, got in enumerate(sent[:want_sent]):
        want = script[i]["wire_request"]
        if i == 0 and "wire_request" in expected:
            want = expected["wire_request"]
        if not same_request(got, want):
            problems.append(f"request {i}: 2.18 sent {json.dumps(got)}; the vector has {json.dumps(want)}")

    if "raises" in expected:
        raises = dict(expected["raises"])
        kind = raises.pop("type")
        if error is None:
            problems.append(f"2.18 returned {result!r}; the vector says it raises {kind}")
        elif type(error).__name__ != kind:
            problems.append(f"2.18 raised {type(error).__name__}: {error}; the vector says {kind}")
        else:
            for attr, value in raises.items():
                if getattr(error, attr) != value:
                    problems.append(f"2.18's {kind}.{attr} is {getattr(error, attr)!r}, not {value!r}")
    else:
        if error is not None:
            problems.append(f"2.18 raised {type(error).__name__}: {error}")
        else:
            for attr, value in expected.get("returns", {}).items():
                got = lookup(result, attr)
                if got != value:
                    problems.append(f"2.18's result.{attr} is {got!r}, not {value!r}")
    return problems


def main():
    assert atlasent.__version__ == "2.18.0", atlasent.__version__
    failures = 0
    count = 0
    for path in sorted(HERE.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for vector in doc.get("vectors", []):
            count += 1
            for problem in run(vector):
                failures += 1
                print(f"{path.name} {vector['name']}: {problem}")
    print(f"{count} vectors replayed through atlasent {atlasent.__version__}; {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
