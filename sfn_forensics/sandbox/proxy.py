"""A loopback reverse proxy in front of moto that pages histories like AWS and injects faults.

moto returns a whole execution history in one page and never fails on purpose. The proxy:

- returns GetExecutionHistory in AWS-sized pages: `maxResults` (default 100, maximum 1000), an
  opaque `nextToken`, `reverseOrder`, and no inputs or outputs when `includeExecutionData`
  is false. Continuation pages come from the history fetched for page one of the execution;
- returns configured errors in AWS's wire format: JSON `{"__type", "message"}` for JSON
  protocol services such as Step Functions and CloudWatch Logs, and S3's XML `<Error>`;
- forwards every other request and response unchanged, apart from hop-by-hop headers and
  chunked transfer encoding, which it replaces with Content-Length.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import ipaddress
import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

import orjson

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.server import LOOPBACK_HOST, require_loopback

log = logging.getLogger(__name__)

HISTORY_OPERATION = "GetExecutionHistory"
HISTORY_DEFAULT_PAGE_SIZE = 100
HISTORY_MAX_PAGE_SIZE = 1000
UPSTREAM_TIMEOUT_SECONDS = 120.0
# Idle keep-alive connections from clients are closed after this many seconds.
CLIENT_IDLE_TIMEOUT_SECONDS = 60.0

HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
# The account and role named in injected AccessDenied messages, as moto's default account.
DENIED_PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/forensics-readonly/forensics"


@dataclass
class Fault:
    """An error the proxy returns instead of forwarding a matching request."""

    code: str
    status: int
    message: str | None
    # JSON protocol services: the operation name from X-Amz-Target, e.g. GetExecutionHistory.
    operation: str | None = None
    # S3: the HTTP method, the bucket, and a key prefix ("" matches every key).
    method: str | None = None
    bucket: str | None = None
    key_prefix: str = ""
    # Matching requests left to fail; None fails every matching request.
    remaining: int | None = None


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    operation: str | None
    signing_service: str | None
    body: bytes

    def s3_location(self) -> tuple[str, str]:
        """Return (bucket, key) of a path-style S3 request."""
        path = unquote(urlsplit(self.path).path).lstrip("/")
        bucket, _, key = path.partition("/")
        return bucket, key


class AwsLikeProxy:
    """A threaded HTTP reverse proxy on a loopback address, in front of a moto server."""

    def __init__(self, upstream_url: str, host: str = LOOPBACK_HOST, port: int = 0) -> None:
        require_loopback(upstream_url)
        if not _is_loopback_host(host):
            raise SandboxError(
                f"the proxy binds only to a loopback address, not {host!r}",
                hint="Use host 127.0.0.1.",
            )
        parsed = urlsplit(upstream_url)
        if parsed.hostname is None or parsed.scheme != "http":
            raise SandboxError(f"invalid upstream URL for the proxy: {upstream_url}")
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port or 80
        self.host = host
        self.port = port
        self._faults: list[Fault] = []
        self._calls: list[str] = []
        # The whole history fetched for a first page, reused by its continuation pages.
        self.history_cache: dict[str, list[dict[str, Any]]] = {}
        self.history_cache_lock = threading.Lock()
        self._lock = threading.Lock()
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise SandboxError("the proxy is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def calls(self) -> list[str]:
        """Requests received so far: operation names, or `s3:<METHOD> /<bucket>/<key>`."""
        with self._lock:
            return list(self._calls)

    def start(self) -> AwsLikeProxy:
        """Bind the port and serve in a background thread."""
        if self._server is not None:
            return self
        server = _ProxyServer((self.host, self.port), _ProxyHandler, proxy=self)
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"aws-like-proxy-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info(
            "proxy on %s forwards to %s:%d",
            self.endpoint_url,
            self.upstream_host,
            self.upstream_port,
        )
        return self

    def stop(self) -> None:
        """Stop serving and close open client connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        log.info("proxy on port %d stopped", self.port)

    def __enter__(self) -> AwsLikeProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def fail(
        self,
        operation: str,
        code: str,
        status: int = 400,
        message: str | None = None,
        times: int | None = None,
    ) -> None:
        """Return AWS error `code` for a JSON protocol `operation`, `times` times or always."""
        self._add(
            Fault(code=code, status=status, message=message, operation=operation, remaining=times)
        )

    def deny(self, operation: str, times: int | None = None) -> None:
        """Return AccessDeniedException (HTTP 400) for the JSON protocol `operation`."""
        self.fail(operation, "AccessDeniedException", 400, times=times)

    def throttle(self, operation: str, times: int | None = None) -> None:
        """Return ThrottlingException (HTTP 400), which botocore retries."""
        self.fail(operation, "ThrottlingException", 400, "Rate exceeded", times=times)

    def fail_s3(
        self,
        method: str,
        bucket: str,
        key_prefix: str = "",
        code: str = "InternalError",
        status: int = 500,
        message: str | None = None,
        times: int | None = None,
    ) -> None:
        """Return S3 error `code` for `method` requests on keys in `bucket` under `key_prefix`."""
        self._add(
            Fault(
                code=code,
                status=status,
                message=message,
                method=method.upper(),
                bucket=bucket,
                key_prefix=key_prefix,
                remaining=times,
            )
        )

    def deny_s3(
        self, method: str, bucket: str, key_prefix: str = "", times: int | None = None
    ) -> None:
        """Return S3's AccessDenied (HTTP 403) for matching requests."""
        self.fail_s3(method, bucket, key_prefix, "AccessDenied", 403, "Access Denied", times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: Fault) -> None:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError(f"times must be at least 1 or None, got {fault.remaining}")
        with self._lock:
            self._faults.append(fault)

    def _record_and_match(self, request: _Request) -> Fault | None:
        """Record the request and return the first fault that matches it, using up one try."""
        with self._lock:
            self._calls.append(_describe_call(request))
            for fault in self._faults:
                if not _fault_matches(fault, request):
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None


# Executions whose full history the proxy keeps for continuation pages.
HISTORY_CACHE_SIZE = 8


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], proxy: AwsLikeProxy
    ) -> None:
        self.proxy = proxy
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _ProxyHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps boto3's connections alive; every response therefore sets Content-Length.
    protocol_version = "HTTP/1.1"
    timeout = CLIENT_IDLE_TIMEOUT_SECONDS
    # Headers and body go out in separate writes; without this each response waits on Nagle.
    disable_nagle_algorithm = True

    @property
    def proxy_server(self) -> _ProxyServer:
        return cast(_ProxyServer, self.server)

    def setup(self) -> None:
        super().setup()
        with self.proxy_server.connections_lock:
            self.proxy_server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.proxy_server.connections_lock:
            self.proxy_server.open_connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("proxy %s: " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        target = self.headers.get("X-Amz-Target")
        request = _Request(
            method=self.command,
            path=self.path,
            operation=target.rsplit(".", 1)[-1] if target else None,
            signing_service=_signing_service(self.headers.get("Authorization")),
            body=self._read_body(),
        )
        fault = self.proxy_server.proxy._record_and_match(request)
        try:
            if fault is not None:
                log.debug("proxy injects %s for %s", fault.code, _describe_call(request))
                self._send_fault(fault, request)
            elif request.operation == HISTORY_OPERATION:
                self._send_history_page(request)
            else:
                status, reason, headers, body = self._forward(request, request.body)
                self._send(status, reason, headers, body)
        except (OSError, http.client.HTTPException) as error:
            log.error("proxy could not reach upstream for %s: %s", _describe_call(request), error)
            self._send(
                502,
                "Bad Gateway",
                [("Content-Type", "text/plain")],
                f"upstream failed: {error}".encode(),
            )

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked_body(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Skip trailer headers up to the blank line that ends the body.
                while self.rfile.readline().strip():
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _forward(
        self, request: _Request, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        proxy = self.proxy_server.proxy
        connection = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=UPSTREAM_TIMEOUT_SECONDS
        )
        try:
            connection.putrequest(
                request.method, request.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in self.headers.items():
                if name.lower() in HOP_BY_HOP_HEADERS or name.lower() == "content-length":
                    continue
                connection.putheader(name, value)
            if body or request.method not in ("GET", "HEAD", "DELETE"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            payload = response.read()
            headers = response.getheaders()
            return response.status, response.reason, headers, payload
        finally:
            connection.close()

    def _send(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status, reason)
        upstream_length: str | None = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                upstream_length = value
                continue
            if lowered in HOP_BY_HOP_HEADERS:
                continue
            self.send_header(name, value)
        if self.command == "HEAD" and upstream_length is not None:
            # A HEAD response states the length of the body a GET would return.
            self.send_header("Content-Length", upstream_length)
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_fault(self, fault: Fault, request: _Request) -> None:
        request_id = str(uuid.uuid4())
        if fault.operation is not None:
            message = fault.message
            if message is None:
                denied = fault.code.startswith("AccessDenied")
                message = _denied_message(request) if denied else fault.code
            body = orjson.dumps({"__type": fault.code, "message": message})
            headers = [("Content-Type", JSON_CONTENT_TYPE), ("x-amzn-RequestId", request_id)]
        else:
            message = fault.message or fault.code
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{escape(fault.code)}</Code><Message>{escape(message)}</Message>"
                f"<RequestId>{request_id}</RequestId></Error>"
            ).encode()
            headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
            if request.method == "HEAD":
                # S3 sends no body with a HEAD response, so clients see only the status code.
                body = b""
        self._send(fault.status, http.client.responses.get(fault.status, ""), headers, body)

    def _send_history_page(self, request: _Request) -> None:
        try:
            params = orjson.loads(request.body or b"{}")
            if not isinstance(params, dict):
                raise _ClientFault("ValidationException", "the request body is not an object")
            page_size = _page_size(params.get("maxResults"))
            offset = _decode_token(params.get("nextToken"))
        except orjson.JSONDecodeError:
            self._send_json_error("SerializationException", "the request body is not JSON")
            return
        except _ClientFault as fault:
            self._send_json_error(fault.code, fault.message)
            return

        proxy = self.proxy_server.proxy
        arn = str(params.get("executionArn"))
        with proxy.history_cache_lock:
            cached = proxy.history_cache.get(arn) if offset else None
        if cached is not None:
            upstream = cached
        else:
            fetched = self._fetch_whole_history(request, params)
            if isinstance(fetched, tuple):
                self._send(*fetched)
                return
            upstream = fetched
            with proxy.history_cache_lock:
                # Continuation pages read the copy fetched for page one, as one listing does.
                if len(proxy.history_cache) >= HISTORY_CACHE_SIZE:
                    proxy.history_cache.pop(next(iter(proxy.history_cache)))
                proxy.history_cache[arn] = upstream

        events = list(reversed(upstream)) if params.get("reverseOrder") else upstream
        if params.get("includeExecutionData", True) is False:
            events = [_without_execution_data(event) for event in events]
        page: dict[str, Any] = {"events": events[offset : offset + page_size]}
        if offset + page_size < len(events):
            page["nextToken"] = _encode_token(offset + page_size)
        headers = [("Content-Type", JSON_CONTENT_TYPE), ("x-amzn-RequestId", str(uuid.uuid4()))]
        self._send(200, "OK", headers, orjson.dumps(page))

    def _fetch_whole_history(
        self, request: _Request, params: dict[str, Any]
    ) -> list[dict[str, Any]] | tuple[int, str, list[tuple[str, str]], bytes]:
        """Return every event from upstream, or upstream's error response unchanged."""
        events: list[dict[str, Any]] = []
        upstream_params: dict[str, Any] = {
            "executionArn": params.get("executionArn"),
            "maxResults": HISTORY_MAX_PAGE_SIZE,
            "includeExecutionData": True,
        }
        while True:
            status, reason, headers, body = self._forward(request, orjson.dumps(upstream_params))
            if status != 200:
                return status, reason, headers, body
            page = orjson.loads(body)
            events.extend(page.get("events", []))
            token = page.get("nextToken")
            if not token:
                return events
            upstream_params["nextToken"] = token

    def _send_json_error(self, code: str, message: str) -> None:
        body = orjson.dumps({"__type": code, "message": message})
        headers = [("Content-Type", JSON_CONTENT_TYPE), ("x-amzn-RequestId", str(uuid.uuid4()))]
        self._send(400, "Bad Request", headers, body)


class _ClientFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _page_size(value: object) -> int:
    if value is None or value == 0:
        return HISTORY_DEFAULT_PAGE_SIZE
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 1000:
        raise _ClientFault(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value less than or equal to {HISTORY_MAX_PAGE_SIZE}",
        )
    return value


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode()


def _decode_token(token: object) -> int:
    if token is None:
        return 0
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(str(token)))
        offset = decoded["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise _ClientFault("InvalidToken", f"Invalid Token: '{token}'") from None
    if not isinstance(offset, int) or offset < 0:
        raise _ClientFault("InvalidToken", f"Invalid Token: '{token}'")
    return offset


def _without_execution_data(event: dict[str, Any]) -> dict[str, Any]:
    # NOTE: only `input` and `output` are dropped. Whether AWS also drops fields such as
    # TaskScheduled `parameters` when includeExecutionData is false was not checked.
    copy = dict(event)
    for name, details in event.items():
        if name.endswith("EventDetails") and isinstance(details, dict):
            copy[name] = {
                key: value for key, value in details.items() if key not in ("input", "output")
            }
    return copy


def _fault_matches(fault: Fault, request: _Request) -> bool:
    if fault.operation is not None:
        return request.operation == fault.operation
    if request.signing_service != "s3" or request.method != fault.method:
        return False
    bucket, key = request.s3_location()
    return bucket == fault.bucket and key.startswith(fault.key_prefix)


def _describe_call(request: _Request) -> str:
    if request.operation is not None:
        return request.operation
    if request.signing_service == "s3":
        return f"s3:{request.method} {urlsplit(request.path).path}"
    return f"{request.method} {urlsplit(request.path).path}"


def _denied_message(request: _Request) -> str:
    action = f"{request.signing_service or 'aws'}:{request.operation}"
    resource = "*"
    try:
        params = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError:
        params = {}
    if isinstance(params, dict):
        for key in ("executionArn", "stateMachineArn", "logGroupName"):
            if isinstance(params.get(key), str):
                resource = params[key]
                break
    return (
        f"User: {DENIED_PRINCIPAL} is not authorized to perform: {action} on resource: "
        f"{resource} because no identity-based policy allows the {action} action"
    )


def _signing_service(authorization: str | None) -> str | None:
    """Return the service in a SigV4 credential scope: `Credential=KEY/DATE/REGION/SERVICE/...`."""
    if not authorization or "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    parts = scope.split("/")
    return parts[3] if len(parts) >= 5 else None


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
