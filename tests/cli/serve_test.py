#!/usr/bin/env python3
"""`zen serve` end to end: usage: serve_test.py ZEN SERVE_MODEL

Starts servers on free ports (--port 0; the port is read from the first line the server
prints), checks every endpoint, every kind of bad request (each followed by a good one: the
server keeps serving), dynamic batching (concurrent requests get what zen_model_predict
gives, in batches of more than one), PNG/JPEG bodies (as `zen predict` reads the same
file, ?invert=1), --no-batching, the connection limit and idle timeout,
and SIGTERM while a request is in flight (it completes; the server exits 0). Every server
is killed on exit, whatever happens. Python's standard library only."""
import array
import ast
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ZEN, MAKER = sys.argv[1], sys.argv[2]
DIGITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "images", "digits")
failures = 0
servers = []


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL:", what, flush=True)
    return cond


# ---- NPY without numpy ----

def npy_bytes(shape, values, descr="<f4"):
    head = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d, " % d for d in shape) if len(shape) != 1 else "%d," % shape[0])
    pad = 64 - (10 + len(head) + 1) % 64
    head = head + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode() + array.array("f", values).tobytes()


def npy_parse(b):
    assert b[:6] == b"\x93NUMPY", "not NPY"
    hl = int.from_bytes(b[8:10], "little")
    h = ast.literal_eval(b[10:10 + hl].decode())
    a = array.array("f")
    a.frombytes(b[10 + hl:])
    return h["shape"], list(a)


# ---- servers ----

def start(args):
    p = subprocess.Popen([ZEN, "serve"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    servers.append(p)
    ready, _, _ = select.select([p.stdout], [], [], 60)
    line = p.stdout.readline().decode() if ready else ""
    if "listening on http://" not in line:
        p.kill()
        print("server did not start:", line, p.stderr.read().decode())
        sys.exit(1)
    port = int(line.split("http://")[1].split(":")[1].split(" ")[0])
    return p, port


def stop(p, what):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    err = p.stderr.read().decode()
    check(rc == 0, "%s: exit status %s after SIGTERM; stderr: %s" % (what, rc, err[-3000:]))
    return err


def req(port, method, path, body=None, headers=None, chunked=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type") or "", data, r


def post_json(port, model, obj):
    body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
    return req(port, "POST", "/v1/models/%s:predict" % model, body, {"Content-Type": "application/json"})


def near(a, b, tol=1e-5):
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b))


def metric(text, name, labels=""):
    for line in text.splitlines():
        if line.startswith(name + ("{" + labels if labels else "")) or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return None


def main():
    tmp = tempfile.mkdtemp(prefix="zen_serve_test_")
    try:
        run(tmp)
    finally:
        for p in servers:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%s: %d failure(s)" % ("FAILED" if failures else "ok", failures))
    sys.exit(1 if failures else 0)


def run(tmp):
    subprocess.run([MAKER, tmp], check=True)
    xs, x = npy_parse(open(tmp + "/x.npy", "rb").read())
    ys, y = npy_parse(open(tmp + "/y.npy", "rb").read())
    n = xs[0]
    sample = lambda i: x[i * 784:(i + 1) * 784]
    expect = lambda i: y[i * 10:(i + 1) * 10]
    nested = lambda s: [[[s[r * 28 + c]] for c in range(28)] for r in range(28)]
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

    # ---- command-line errors ----
    def cli(args, want_rc, want_msg):
        r = subprocess.run([ZEN, "serve"] + args, capture_output=True, text=True, timeout=60)
        check(r.returncode == want_rc and want_msg in r.stderr,
              "zen serve %s: rc %d, stderr %r (want %d, %r)" % (args, r.returncode, r.stderr[:300], want_rc, want_msg))
    print("command line", flush=True)
    cli([], 2, "which model?")
    cli([tmp + "/nope.zen"], 1, "nope.zen")
    cli([tmp + "/x.npy"], 1, "x.npy")
    os.mkdir(tmp + "/empty")
    cli([tmp + "/empty"], 1, "no *.zen model files")
    cli([tmp, "--port", "70000"], 2, "--port needs an integer from 0 to 65535")
    cli([tmp, "--max-batch", "0"], 2, "--max-batch")
    cli([tmp, "--bogus"], 2, "unknown option '--bogus'")
    cli([tmp, "--host", "localhost:1"], 1, "not an IPv4 address")
    cli([tmp, "--port"], 2, "--port needs a value")
    cli([tmp, tmp + "/x.npy"], 2, "one MODEL.zen or DIR")
    cli([tmp, "--max-wait-ms", "-1"], 2, "--max-wait-ms needs a number from 0 to 60000, got '-1'")
    cli([tmp, "--max-body", "10"], 2, "--max-body needs an integer from 64")
    cli([tmp, "--max-connections", "x"], 2, "--max-connections needs an integer")
    cli([tmp, "--timeout", "0"], 2, "--timeout needs an integer from 1 to 86400")
    cli([tmp, "--threads", "0"], 2, "--threads needs an integer from 1 to 1024")

    # ---- server A: the directory, batching ----
    a, port = start([tmp, "--port", "0", "--max-batch", "16", "--max-wait-ms", "30", "--max-body", "300000"])
    cli([tmp, "--port", str(port)], 1, "cannot listen")
    print("endpoints", flush=True)
    st, ct, body, _ = req(port, "GET", "/healthz")
    check(st == 200 and json.loads(body) == {"status": "ok", "models": 3}, "healthz: %d %r" % (st, body))
    st, ct, body, _ = req(port, "GET", "/v1/models")
    models = json.loads(body)["models"]
    check(st == 200 and [m["name"] for m in models] == ["digits", "plain", "tokens"], "models list: %r" % body[:200])
    st, ct, body, _ = req(port, "GET", "/v1/models/digits")
    m = json.loads(body)
    check(st == 200 and m["input_shape"] == [28, 28, 1] and m["output_shape"] == [10] and m["class_names"] == names
          and m["params"] == 6810 and m["input_dtype"] == "float32" and m["file"]["size"] > 0
          and m["file"]["zen_version"], "digits metadata: %r" % m)
    st, ct, body, _ = req(port, "GET", "/v1/models/plain")
    check(st == 200 and json.loads(body)["class_names"] == [] and json.loads(body)["input_shape"] == [4], "plain metadata")
    st, ct, body, _ = req(port, "GET", "/v1/models/tokens")
    check(st == 200 and json.loads(body)["input_dtype"] == "int32", "tokens metadata: %r" % body)
    st, ct, body, _ = req(port, "GET", "/")
    check(st == 200 and ct.startswith("text/html") and b"<canvas" in body, "page: %d %s" % (st, ct))

    print("predict", flush=True)
    st, ct, body, _ = post_json(port, "digits", {"instances": [nested(sample(0)), nested(sample(1))]})
    r = json.loads(body)
    check(st == 200 and near(r["predictions"][0], expect(0)) and near(r["predictions"][1], expect(1)),
          "two instances: %d %r" % (st, body[:300]))
    cls = [max(range(10), key=lambda k: expect(i)[k]) for i in (0, 1)]
    check(r["classes"] == cls and r["labels"] == [names[c] for c in cls], "classes/labels %r" % r)
    st, ct, body, _ = post_json(port, "plain", {"instances": [[1, 2, 3, 4]], "signature_name": "serving_default"})
    r = json.loads(body)
    check(st == 200 and len(r["predictions"][0]) == 3 and r["labels"] == [str(r["classes"][0])], "plain: %r" % body)
    # NPY in, all 40 samples (more than --max-batch: chunks), JSON and NPY out
    npy = npy_bytes([n, 28, 28, 1], x)
    st, ct, body, _ = req(port, "POST", "/v1/models/digits:predict", npy, {"Content-Type": "application/x-npy"})
    r = json.loads(body)
    check(st == 200 and all(near(r["predictions"][i], expect(i)) for i in range(n)), "npy body of %d: %d" % (n, st))
    st, ct, body, _ = req(port, "POST", "/v1/models/digits:predict", npy,
                          {"Content-Type": "application/x-npy", "Accept": "application/x-npy"})
    shape, vals = npy_parse(body) if st == 200 else ((), [])
    check(st == 200 and ct == "application/x-npy" and shape == (n, 10) and near(vals, y), "npy out: %d %s" % (st, ct))
    st, ct, body, _ = req(port, "POST", "/v1/models/digits:predict", npy_bytes([28, 28, 1], sample(5)),
                          {"Content-Type": "application/x-npy"})
    check(st == 200 and near(json.loads(body)["predictions"][0], expect(5)), "single-sample npy: %d" % st)

    # image bodies: one PNG/JPEG each, made into the input as `zen predict` makes the same file
    print("images", flush=True)
    def zen_predict(path, *flags):
        out = os.path.join(tmp, "predict_out.npy")
        r = subprocess.run([ZEN, "predict", tmp + "/digits.zen", path, "--output", out] + list(flags),
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "zen predict %s: %s" % (path, r.stderr))
        return npy_parse(open(out, "rb").read())[1] if r.returncode == 0 else []
    def post_image(model, data, ctype, query=""):
        return req(port, "POST", "/v1/models/%s:predict%s" % (model, query), data, {"Content-Type": ctype})
    png, jpg = DIGITS + "/seven_paper.png", DIGITS + "/seven.jpg"
    png_bytes, jpg_bytes = open(png, "rb").read(), open(jpg, "rb").read()
    for what, path, ctype, query, flags in [("PNG ?invert=1", png, "image/png", "?invert=1", ["--invert"]),
                                            ("PNG", png, "image/png", "", []),
                                            ("JPEG", jpg, "image/jpeg", "", []),
                                            ("JPEG ?invert=0", jpg, "image/jpeg", "?invert=0", [])]:
        want = zen_predict(path, *flags)
        st, ct, body, _ = post_image("digits", open(path, "rb").read(), ctype, query)
        r = json.loads(body) if st == 200 else {}
        check(st == 200 and len(r["predictions"]) == 1 and near(r["predictions"][0], want)
              and r["classes"] == [max(range(10), key=lambda k: want[k])],
              "%s: %d %r vs zen predict %r" % (what, st, body[:300], want))
        if what == "PNG ?invert=1":
            inverted = want
        if what == "PNG":
            check(not near(want, inverted, 1e-3), "?invert=1 changes the prediction of a dark-on-white PNG")
    # batched like any other request: images and JSON samples at once, each gets its own row
    want_png = zen_predict(png, "--invert")
    results = [None] * 8
    go = threading.Barrier(8)
    def mixed(i):
        go.wait()
        if i % 2:
            results[i] = post_json(port, "digits", {"instances": [nested(sample(i))]})
        else:
            results[i] = post_image("digits", png_bytes, "image/png", "?invert=1")
    ts = [threading.Thread(target=mixed, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i, (st, ct, body, _) in enumerate(results):
        check(st == 200 and near(json.loads(body)["predictions"][0], want_png if i % 2 == 0 else expect(i)),
              "concurrent image/JSON request %d: %d %r" % (i, st, body[:200]))

    # dynamic batching: every sample its own request, all at once
    print("batching", flush=True)
    def concurrent(port, count):
        results = [None] * count
        go = threading.Barrier(count)
        def one(i):
            go.wait()
            results[i] = post_json(port, "digits", {"instances": [nested(sample(i))]})
        ts = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for i, (st, ct, body, _) in enumerate(results):
            r = json.loads(body)
            check(st == 200 and near(r["predictions"][0], expect(i)) and r["classes"][0] == max(range(10), key=lambda k: expect(i)[k]),
                  "concurrent request %d: %d %r" % (i, st, body[:200]))
    before = req(port, "GET", "/metrics")[2].decode()
    concurrent(port, n)
    text = req(port, "GET", "/metrics")[2].decode()
    batches = metric(text, "zen_batch_size_count", 'model="digits"') - metric(before, "zen_batch_size_count", 'model="digits"')
    singles = metric(text, "zen_batch_size_bucket", 'model="digits",le="1"') - metric(before, "zen_batch_size_bucket", 'model="digits",le="1"')
    samples = metric(text, "zen_batch_size_sum", 'model="digits"') - metric(before, "zen_batch_size_sum", 'model="digits"')
    print("  %d requests ran in %d batches (%d of one sample)" % (n, batches, singles))
    check(samples == n and batches < n and singles < batches + 0.5 and batches - singles >= 1,
          "batching: %s batches, %s singles, %s samples" % (batches, singles, samples))

    # ---- bad requests: each gets a 4xx JSON error naming the problem, then a good one works ----
    print("errors", flush=True)
    good = {"instances": [[0.5, 0.5, 0.5, 0.5]]}
    def bad(what, got, want_status, want_text):
        st, ct, body, _ = got
        try:
            msg = json.loads(body)["error"]
        except Exception:
            msg = None
        check(st == want_status and ct == "application/json" and msg and want_text in msg,
              "%s: %d %s %r (want %d, %r)" % (what, st, ct, body[:300], want_status, want_text))
        st, _, body, _ = post_json(port, "plain", good)
        check(st == 200, "good request after %s: %d %r" % (what, st, body[:200]))
    # `curl -d` sends JSON labelled as a form (TF Serving's curl examples do): read as JSON
    st, _, body, _ = req(port, "POST", "/v1/models/plain:predict", json.dumps(good),
                         {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 200 and "predictions" in json.loads(body), "curl -d form body read as JSON: %d %r" % (st, body[:200]))
    bad("bad JSON", post_json(port, "plain", '{"instances": [[1, 2'), 400, "not valid JSON")
    bad("NaN", post_json(port, "plain", '{"instances": [[NaN, 1, 2, 3]]}'), 400, "not valid JSON")
    bad("empty body", post_json(port, "plain", ""), 400, "empty")
    bad("not an object", post_json(port, "plain", "[1, 2]"), 400, "must be a JSON object")
    bad("no instances", post_json(port, "plain", {"inputs": [[1, 2, 3, 4]]}), 400, 'no "instances"')
    bad("unknown key", post_json(port, "plain", {"instances": [[1, 2, 3, 4]], "x": 1}), 400, 'unknown key "x"')
    bad("instances not a list", post_json(port, "plain", {"instances": 3}), 400, "must be a list")
    bad("empty instances", post_json(port, "plain", {"instances": []}), 400, "empty")
    bad("short instance", post_json(port, "plain", {"instances": [[1, 2, 3]]}), 400,
        "instances[0]: expected a list of 4, got a list of 3")
    bad("flat instance", post_json(port, "digits", {"instances": [sample(0)]}), 400,
        "instances[0]: expected a list of 28, got a list of 784 (each instance must have the model's input shape (28, 28, 1))")
    bad("no channel axis", post_json(port, "digits", {"instances": [[[0.5] * 28] * 28]}), 400,
        "instances[0][0][0]: expected a list of 1, got a number")
    bad("too deep", post_json(port, "plain", {"instances": [[1, 2, 3, [4]]]}), 400,
        "instances[0][3]: expected a number, got a list")
    bad("string", post_json(port, "plain", {"instances": [[1, "2", 3, 4]]}), 400,
        "instances[0][1]: expected a number, got a string")
    bad("bool", post_json(port, "plain", {"instances": [[1, 2, 3, 4], [1, 2, True, 4]]}), 400,
        "instances[1][2]: expected a number, got a boolean")
    bad("infinite", post_json(port, "plain", '{"instances": [[1, 2, 3, 1e999]]}'), 400, "not a finite number")
    bad("f32 range", post_json(port, "plain", '{"instances": [[1, 2, 3, 1e300]]}'), 400, "out of the f32 range")
    # an int32 model: integers only; an id the Embedding does not have fails only its own request
    st, ct, body, _ = post_json(port, "tokens", {"instances": [[0, 1, 2, 3, 9]]})
    check(st == 200 and near([sum(json.loads(body)["predictions"][0])], [1.0]), "tokens: %d %r" % (st, body))
    bad("i32 fraction", post_json(port, "tokens", {"instances": [[0, 1, 2.5, 3, 4]]}), 400,
        "instances[0][2]: 2.5 is not an i32 integer")
    bad("embedding id", post_json(port, "tokens", {"instances": [[0, 1, 2, 3, 10]]}), 400,
        "the model cannot run this input")
    results = [None] * 6
    def tok(i):
        results[i] = post_json(port, "tokens", {"instances": [[0, 1, 2, 3, 99 if i == 2 else i]]})
    ts = [threading.Thread(target=tok, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check([r[0] for r in results] == [200, 200, 400, 200, 200, 200],
          "one bad request among concurrent ones fails alone: %r" % [r[0] for r in results])
    bad("npy garbage", req(port, "POST", "/v1/models/plain:predict", b"hello", {"Content-Type": "application/x-npy"}),
        400, "request body")
    bad("npy shape", req(port, "POST", "/v1/models/plain:predict", npy_bytes([2, 5], [0] * 10),
                         {"Content-Type": "application/x-npy"}), 400, "(2, 5) does not fit the model's input (N, 4)")
    bad("npy no samples", req(port, "POST", "/v1/models/plain:predict", npy_bytes([0, 4], []),
                              {"Content-Type": "application/x-npy"}), 400, "no samples")
    bad("npy NaN", req(port, "POST", "/v1/models/plain:predict", npy_bytes([1, 4], [1, float("nan"), 0, 0]),
                       {"Content-Type": "application/x-npy"}), 400, "sample 0, element 1 is NaN")
    bad("npy truncated", req(port, "POST", "/v1/models/plain:predict", npy_bytes([2, 4], [0] * 8)[:-3],
                             {"Content-Type": "application/x-npy"}), 400, "truncated")
    bad("truncated PNG", post_image("digits", png_bytes[:len(png_bytes) // 2], "image/png"), 400,
        "request body: damaged PNG")
    bad("truncated JPEG", post_image("digits", jpg_bytes[:len(jpg_bytes) // 2], "image/jpeg"), 400,
        "request body: damaged JPEG")
    bad("not an image", post_image("digits", b"hello, world", "image/png"), 400,
        "request body: not a PNG or JPEG image")
    bad("empty image", post_image("digits", b"", "image/png"), 400, "the body is empty")
    bad("PNG sent as JPEG", post_image("digits", png_bytes, "image/jpeg"), 400,
        "Content-Type says JPEG but the body is a PNG image")
    bad("image to an int model", post_image("tokens", png_bytes, "image/png"), 415,
        "the model 'tokens' takes int32 token ids, not images")
    bad("bad invert", post_image("digits", png_bytes, "image/png", "?invert=yes"), 400, "?invert=yes: give invert=1")
    bad("invert on JSON", req(port, "POST", "/v1/models/plain:predict?invert=1", json.dumps(good),
                              {"Content-Type": "application/json"}), 400, "image bodies")
    bad("content type", req(port, "POST", "/v1/models/plain:predict", "1,2,3,4", {"Content-Type": "text/csv"}), 415,
        "Content-Type 'text/csv' is not supported")
    big = b'{"instances": [' + b"0," * 200000 + b"0]}"
    bad("oversized", post_json(port, "plain", big), 413, "larger than --max-body 300000")
    bad("oversized chunked", req(port, "POST", "/v1/models/plain:predict", iter([big[:150000], big[150000:]]),
                                 {"Content-Type": "application/json"}, chunked=True), 413, "larger than --max-body")
    bad("unknown model", post_json(port, "nope", good), 404, "no model named 'nope' (served: digits, plain, tokens)")
    bad("unknown model meta", req(port, "GET", "/v1/models/nope"), 404, "no model named 'nope'")
    bad("unknown verb", req(port, "POST", "/v1/models/plain:explain", "{}"), 404, "unknown path")
    bad("unknown path", req(port, "GET", "/v2/whatever"), 404, "unknown path")
    got = req(port, "GET", "/v1/models/plain:predict")
    check(got[3].getheader("Allow") == "POST", "405 names the allowed method")
    bad("GET predict", got, 405, "method not allowed (use POST)")
    bad("POST healthz", req(port, "POST", "/healthz", "{}"), 405, "method not allowed")
    bad("DELETE model", req(port, "DELETE", "/v1/models/plain"), 405, "method not allowed")
    bad("PUT metrics", req(port, "PUT", "/metrics", "x"), 405, "method not allowed")

    st, ct, text, _ = req(port, "GET", "/metrics")
    text = text.decode()
    check(st == 200 and ct.startswith("text/plain"), "metrics content type %s" % ct)
    for want in ['zen_requests_total{code="200",model="digits"}', 'zen_requests_total{code="400",model="plain"}',
                 'zen_requests_total{code="404",model=""}', 'zen_requests_total{code="413",model="plain"}',
                 'zen_requests_total{code="405",model="plain"}', 'zen_requests_total{code="415",model="plain"}',
                 'zen_request_duration_seconds_bucket{model="digits",le="+Inf"}', "zen_request_duration_seconds_sum",
                 'zen_batch_size_bucket{model="plain",le="1"}', "# TYPE zen_batch_size histogram",
                 "zen_requests_in_flight 1", "zen_process_resident_memory_bytes "]:
        check(want in text, "metrics lack %s" % want)
    check(metric(text, "zen_process_resident_memory_bytes") > 1e6, "RSS")
    stop(a, "server A")

    # ---- server B: no batching ----
    print("no batching", flush=True)
    b, port = start([tmp + "/digits.zen", "--port", "0", "--no-batching", "--threads", "1"])
    concurrent(port, 12)
    text = req(port, "GET", "/metrics")[2].decode()
    check(metric(text, "zen_batch_size_count", 'model="digits"') == 12 and
          metric(text, "zen_batch_size_bucket", 'model="digits",le="1"') == 12, "--no-batching ran batches of 1")
    stop(b, "server B")

    # ---- server E: a model whose input is not an image ----
    print("non-image model", flush=True)
    os.mkdir(tmp + "/wide")
    spec = tmp + "/wide/wide.json"
    with open(spec, "w") as f:
        json.dump({"class_name": "Sequential", "config": {"name": "wide", "layers": [
            {"class_name": "Input", "config": {"shape": [5]}},
            {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]}}, f)
    subprocess.run([MAKER, tmp + "/wide", spec], check=True)
    e, port = start([tmp + "/wide/wide.zen", "--port", "0"])
    good = {"instances": [[1, 2, 3, 4, 5]]}
    def bad_wide(what, got, want_status, want_text):
        st, ct, body, _ = got
        msg = json.loads(body).get("error", "") if ct == "application/json" else ""
        check(st == want_status and want_text in msg, "%s: %d %r" % (what, st, body[:300]))
        check(post_json(port, "wide", good)[0] == 200, "good request after %s" % what)
    bad_wide("image to a (5,) model", post_image("wide", png_bytes, "image/png"), 415,
             "the model 'wide' does not take images (its input (5,): a flat input of 5 values is not a square image")
    stop(e, "server E")

    # ---- server C: connection limit, idle timeout ----
    print("limits and shutdown", flush=True)
    c, port = start([tmp, "--port", "0", "--max-connections", "2", "--timeout", "3"])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    for s in idle:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")  # never finished
    time.sleep(0.3)
    try:
        st = req(port, "GET", "/healthz")[0]
    except (ConnectionError, http.client.HTTPException, OSError):
        st = "refused"
    check(st in ("refused", 503), "a third connection over --max-connections 2: %s" % st)
    for s in idle:  # --timeout 3 closes them
        s.settimeout(10)
        try:
            closed = s.recv(100) == b""
        except OSError:
            closed = True
        check(closed, "an idle connection is closed after --timeout")
        s.close()
    st = None
    for _ in range(50):  # their threads free the slots a moment after closing
        try:
            st = req(port, "GET", "/healthz")[0]
            break
        except (ConnectionError, http.client.HTTPException, OSError):
            time.sleep(0.1)
    check(st == 200, "serving again after the idle connections closed: %s" % st)

    stop(c, "server C")

    # ---- server D: a request half sent when SIGTERM comes: the server waits for the rest and answers it
    c, port = start([tmp, "--port", "0"])
    body = json.dumps({"instances": [nested(sample(3))]}).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body[:1000])
    time.sleep(0.3)
    c.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    check(c.poll() is None, "the server waits for the request in flight")
    sock.sendall(body[1000:])
    sock.settimeout(30)
    reply = b""
    while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < int(
            reply.split(b"Content-Length: ")[1].split(b"\r\n")[0] if b"Content-Length: " in reply else 1 << 30):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    sock.close()
    head, _, rbody = reply.partition(b"\r\n\r\n")
    ok = head.startswith(b"HTTP/1.1 200")
    check(ok and near(json.loads(rbody)["predictions"][0], expect(3)),
          "the request in flight at SIGTERM completes: %r" % reply[:300])
    try:
        rc = c.wait(30)
    except subprocess.TimeoutExpired:
        rc = "hung"
    check(rc == 0, "exit status after SIGTERM: %s (%s)" % (rc, c.stderr.read().decode()[-2000:]))
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    check(refused, "no longer accepting after shutdown")


main()
