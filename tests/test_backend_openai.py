"""The openai backend: retry/timeout/balancing logic against a small fake server of our own
(fast), and the real thing against ``vllm serve`` of the tiny model (marked slow)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from int_exp.backends import make_backend
from int_exp.backends.base import SamplingParams
from int_exp.backends.openai import OpenAIBackend, ServerError, chat_completions_url
from int_exp.config import BackendConfig

QUESTION = [{"role": "user", "content": "What is 2 + 3?"}]


def continuation(text: str) -> list[dict[str, str]]:
    return QUESTION + [{"role": "assistant", "content": text}]


class FakeServer:
    """An OpenAI-style /v1/chat/completions that fails the first ``fail_first`` requests with
    ``fail_status`` and can stall each answer by ``delay_s``. Each choice echoes the last message."""

    def __init__(
        self,
        fail_first: int = 0,
        fail_status: int = 503,
        delay_s: float = 0.0,
        max_model_len: int | None = None,
    ) -> None:
        self.fail_first, self.fail_status, self.delay_s = fail_first, fail_status, delay_s
        self.max_model_len = max_model_len
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                if self.path == "/v1/models" and server.max_model_len:
                    return self._send(200, {"data": [{"id": "m", "max_model_len": server.max_model_len}]})
                self._send(404, {"error": "not found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    count = len(server.requests)
                if server.delay_s:
                    time.sleep(server.delay_s)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": "not found"})
                if count <= server.fail_first:
                    return self._send(server.fail_status, {"error": "busy"})
                last = body["messages"][-1]["content"]
                choices = [
                    {"index": i, "message": {"role": "assistant", "content": f"{last}#{i}"}}
                    for i in reversed(range(body["n"]))
                ]  # out of order on purpose
                self._send(200, {"choices": choices})

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    servers: list[FakeServer] = []

    def start(**kwargs) -> FakeServer:
        servers.append(FakeServer(**kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_url_forms():
    for base in ("http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/"):
        assert chat_completions_url(base) == "http://h:1/v1/chat/completions"


def test_retries_on_503_then_answers_in_order(fake, monkeypatch):
    server = fake(fail_first=2)
    monkeypatch.setenv("INT_EXP_TEST_KEY", "sekret")
    backend = make_backend(
        BackendConfig(
            name="openai",
            base_urls=[server.url],
            served_model_name="tiny",
            api_key_env="INT_EXP_TEST_KEY",
            max_retries=3,
            max_concurrency=1,
        ),
        "/models/tiny",
    )
    backend.backoff_s = 0.01
    chats = [[{"role": "user", "content": f"q{i}"}] for i in range(3)] + [continuation("Step 1:")]
    out = backend.generate(
        chats, SamplingParams(n=2, temperature=0.7, top_p=0.8, top_k=20, max_tokens=9, seed=5)
    )
    assert out == [["q0#0", "q0#1"], ["q1#0", "q1#1"], ["q2#0", "q2#1"], ["Step 1:#0", "Step 1:#1"]]
    assert len(server.requests) == 2 + 4  # two failures, then one answer per prompt
    body = server.requests[-1]
    assert body["model"] == "tiny"
    assert (body["n"], body["temperature"], body["top_p"], body["top_k"], body["max_tokens"]) == (
        2,
        0.7,
        0.8,
        20,
        9,
    )
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert "continue_final_message" not in server.requests[-2]
    assert all(h.get("Authorization") == "Bearer sekret" for h in server.headers)
    seeds = [r["seed"] for r in server.requests[2:]]
    assert len(set(seeds)) == 4  # one derived seed per prompt


def test_gives_up_after_max_retries_naming_the_url(fake):
    server = fake(fail_first=100)
    backend = OpenAIBackend("m", base_urls=[server.url], max_retries=2, backoff_s=0.01)
    start = time.monotonic()
    with pytest.raises(ServerError) as err:
        backend.generate([QUESTION], SamplingParams(n=1, max_tokens=4))
    assert len(server.requests) == 3
    assert server.url in str(err.value) and "503" in str(err.value)
    assert time.monotonic() - start < 2


def test_backoff_grows_exponentially(fake, monkeypatch):
    server = fake(fail_first=3)
    sleeps: list[float] = []
    monkeypatch.setattr("int_exp.backends.openai.time.sleep", sleeps.append)
    backend = OpenAIBackend("m", base_urls=[server.url], max_retries=3, backoff_s=1.0, max_backoff_s=3.0)
    assert backend.complete(QUESTION, SamplingParams(n=1), seed=0) == ["What is 2 + 3?#0"]
    # base * 2**attempt with jitter in [0.5, 1), capped at max_backoff_s
    assert len(sleeps) == 3
    for delay, nominal in zip(sleeps, (1.0, 2.0, 3.0)):
        assert nominal * 0.5 <= delay <= nominal


def test_timeout_is_retried_then_reported(fake):
    server = fake(delay_s=1.0)
    backend = OpenAIBackend("m", base_urls=[server.url], timeout_s=0.2, max_retries=1, backoff_s=0.01)
    start = time.monotonic()
    with pytest.raises(ServerError) as err:
        backend.generate([QUESTION], SamplingParams(n=1, max_tokens=4))
    assert time.monotonic() - start < 1.0  # two attempts of 0.2 s, not the server's 1 s
    assert len(server.requests) == 2
    assert server.url in str(err.value) and "timed out" in str(err.value)


def test_client_errors_are_not_retried(fake):
    server = fake(fail_first=100, fail_status=400)
    backend = OpenAIBackend("m", base_urls=[server.url], max_retries=5, backoff_s=0.01)
    with pytest.raises(ServerError, match="HTTP 400"):
        backend.generate([QUESTION], SamplingParams(n=1))
    assert len(server.requests) == 1


def test_connection_refused_names_the_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    backend = OpenAIBackend("m", base_urls=[url], max_retries=1, backoff_s=0.01, timeout_s=2)
    with pytest.raises(ServerError, match=f"127.0.0.1:{port}"):
        backend.generate([QUESTION], SamplingParams(n=1))


def test_spreads_requests_over_servers_and_replicates_greedy(fake):
    a, b = fake(delay_s=0.05), fake(delay_s=0.05)
    backend = OpenAIBackend("m", base_urls=[a.url, b.url + "/v1"], max_concurrency=4)
    chats = [[{"role": "user", "content": f"q{i}"}] for i in range(12)]
    out = backend.generate(chats, SamplingParams(n=3, temperature=0.0))
    assert out == [[f"q{i}#0"] * 3 for i in range(12)]  # greedy: one sample asked, n returned
    assert len(a.requests) >= 4 and len(b.requests) >= 4
    assert all(r["n"] == 1 and r["temperature"] == 0.0 and "top_k" not in r for r in a.requests + b.requests)


def test_max_tokens_capped_at_the_served_context(fake):
    server = fake(max_model_len=64)
    backend = OpenAIBackend("m", base_urls=[server.url])
    backend.generate([QUESTION], SamplingParams(n=1, max_tokens=1000))
    assert server.requests[-1]["max_tokens"] == 64


def test_needs_a_url():
    with pytest.raises(ValueError, match="base_urls"):
        make_backend(BackendConfig(name="openai"), "m")


# --- a real vllm serve ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_command(model_dir: str, port: int) -> list[str]:
    import importlib.metadata

    args = [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--max-model-len",
        "512",
        "--enforce-eager",
        "--served-model-name",
        "tiny",
    ]
    try:
        importlib.metadata.version("vllm")
        return [os.path.join(os.path.dirname(sys.executable), "vllm"), "serve", model_dir, *args]
    except importlib.metadata.PackageNotFoundError:
        # vllm-cpu installs as distribution "vllm-cpu": the `vllm` CLI then fails on its version
        # lookup, but the (deprecated) api_server module serves the same API.
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir, *args]


@pytest.fixture(scope="module")
def vllm_server(tiny_model_dir, tmp_path_factory):
    pytest.importorskip("vllm")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("vllm-serve") / "server.log"
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            _serve_command(str(tiny_model_dir), port),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"vllm serve not healthy after 300 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the server's own session: it and its engine
            proc.wait(10)


@pytest.mark.slow
@pytest.mark.vllm
def test_real_vllm_serve(vllm_server, tiny_model_dir):
    from int_exp.backends.hf import HFBackend

    backend = make_backend(
        BackendConfig(name="openai", base_urls=[vllm_server], served_model_name="tiny", max_concurrency=4),
        str(tiny_model_dir),
    )
    chats = [
        QUESTION,
        continuation("The"),
        continuation("Step 1: add 2 and 3 to get 5. Step 2:"),
        continuation("42 +"),
    ]
    sampled = backend.generate(chats, SamplingParams(n=3, max_tokens=8, seed=1), desc="serve")
    assert [len(s) for s in sampled] == [3, 3, 3, 3]
    assert sampled == backend.generate(chats, SamplingParams(n=3, max_tokens=8, seed=1))
    assert sampled != backend.generate(chats, SamplingParams(n=3, max_tokens=8, seed=2))

    # The server renders continuations like the local backends: greedy outputs agree with hf.
    greedy = SamplingParams(n=2, temperature=0.0, max_tokens=8)
    served = backend.generate(chats[1:], greedy)
    hf = HFBackend(str(tiny_model_dir))
    try:
        assert served == hf.generate(chats[1:], greedy)
    finally:
        hf.close()
    assert len({s[0] for s in served}) == 3

    # max_tokens beyond the context is clipped by the server, not an error.
    assert len(backend.generate([QUESTION], SamplingParams(n=1, max_tokens=5000))[0]) == 1
