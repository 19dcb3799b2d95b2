"""step.http(request): an HTTP call made by the host for the program, SSRF-safe by default.

Invariants:
- Only http and https URLs. The host name is resolved here, every address it resolves to must be
  public (is_global, not multicast, with IPv4-mapped, 6to4, NAT64 and Teredo addresses unwrapped
  first) unless the operator listed the host or its network in ENGINE_HTTP_ALLOWED_PRIVATE, and the
  connection goes to the address that was checked (TLS still verifies the certificate against the
  host name), so a DNS answer that changes between check and connect cannot redirect the call.
- Redirects are followed here, at most 5, each target checked like the first.
- Proxies from the environment are ignored (trust_env=False): they would bypass the checks.
- Response bodies are read up to the tenant's cap; calls are counted per step against its plan.
- Each request carries an `Idempotency-Key` unique per (instance, step, occurrence, attempt, call),
  and is sent only while the worker's lease is safely ahead (`Call.fence`).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl
from functools import lru_cache
from typing import Any

import httpx
from django.conf import settings

from . import Call, CapabilityError

# httpx logs every request's URL at INFO: a URL may carry a secret, and logs are not redacted.
logging.getLogger("httpx").setLevel(logging.WARNING)
MAX_REDIRECTS = 5
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class SSRFError(CapabilityError):
    name = "HttpForbiddenError"


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One TLS context (certifi's roots, as httpx builds it) for every call of the process: building
    it loads the CA bundle, tens of milliseconds of CPU that would otherwise be paid per call (and
    serialize calls running at once). An SSLContext is safe to share between threads."""
    return httpx.create_ssl_context()


def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` (a seam for tests: names outside this machine cannot resolve here)."""
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except (socket.gaierror, UnicodeError) as e:
        raise CapabilityError(f"cannot resolve {host}: {e}", "HttpError") from None


def embedded_ipv4(ip: ipaddress._BaseAddress) -> ipaddress.IPv4Address | None:
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def operator_allows(host: str, ip: ipaddress._BaseAddress) -> bool:
    for entry in settings.ENGINE_HTTP_ALLOWED_PRIVATE:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if host.lower().rstrip(".") == entry.lower().rstrip("."):
                return True
    return False


def check_address(host: str, address: str) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    inner = embedded_ipv4(ip)
    for candidate in (ip, inner) if inner else (ip,):
        if operator_allows(host, candidate):
            return
        if not candidate.is_global or candidate.is_multicast:
            raise SSRFError(f"{host} resolves to {address}, a non-public address: refused")


def checked_address(url: httpx.URL) -> str:
    if url.scheme not in ("http", "https"):
        raise SSRFError(f"only http and https URLs are allowed, not {url.scheme or 'a relative URL'}")
    host = url.host
    if not host:
        raise SSRFError("the URL has no host")
    addresses = resolve(host, url.port or (443 if url.scheme == "https" else 80))
    if not addresses:
        raise CapabilityError(f"cannot resolve {host}", "HttpError")
    for address in addresses:  # all of them: a name with one private answer is refused outright
        check_address(host, address)
    return addresses[0]


def parse_request(args: Any, plan) -> dict:
    if isinstance(args, str):
        args = {"url": args}
    if not isinstance(args, dict) or not isinstance(args.get("url"), str):
        raise CapabilityError("step.http needs { url, method?, headers?, json? | body?, timeout? }", "TypeError")
    method = str(args.get("method", "GET")).upper()
    if method not in METHODS:
        raise CapabilityError(f"unsupported method {method}", "TypeError")
    headers = args.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise CapabilityError("headers must map strings to strings", "TypeError")
    if any("\r" in k or "\n" in k or "\r" in v or "\n" in v or "\x00" in v for k, v in headers.items()):
        raise CapabilityError("header names and values must be one line", "TypeError")
    if not all(k.isascii() for k in headers):
        raise CapabilityError("header names must be ASCII", "TypeError")
    # Values beyond ASCII (a password with "é") go as their UTF-8 bytes, as curl and browsers send them.
    headers = {k: v if v.isascii() else v.encode("utf-8") for k, v in headers.items()
               if k.lower() not in ("host", "content-length", "transfer-encoding", "idempotency-key")}
    content = None
    if "json" in args:
        content = json.dumps(args["json"]).encode()
        headers.setdefault("content-type", "application/json")
    elif args.get("body") is not None:
        if not isinstance(args["body"], str):
            raise CapabilityError("body must be a string (use json for objects)", "TypeError")
        content = args["body"].encode()
    timeout = plan.http_timeout_seconds
    if args.get("timeout") is not None:
        if not isinstance(args["timeout"], (int, float)) or args["timeout"] <= 0:
            raise CapabilityError("timeout is a number of milliseconds", "TypeError")
        timeout = min(timeout, args["timeout"] / 1000)
    try:
        url = httpx.URL(args["url"])
    except Exception:
        raise CapabilityError(f"not a URL: {args['url'][:200]}", "TypeError") from None
    return {"url": url, "method": method, "headers": headers, "content": content, "timeout": timeout}


def count_call(call: Call, step: str | None) -> None:
    key = f"http:{step}" if step else "http:*"
    with call.lock:  # calls of one advance may run in threads at once
        call.counters[key] = calls = call.counters.get(key, 0) + 1
        call.counters["http"] = call.counters.get("http", 0) + 1
    if calls > call.plan.http_calls_per_step:
        raise CapabilityError(
            f"more than {call.plan.http_calls_per_step} HTTP calls in one step (the plan's limit)", "HttpLimitError")


def http(call: Call) -> dict:
    args = call.args
    count_call(call, call.step)
    req = parse_request(args, call.plan)
    cap = call.plan.http_response_bytes
    url, method, content = req["url"], req["method"], req["content"]
    with httpx.Client(timeout=req["timeout"], follow_redirects=False, trust_env=False, verify=tls_context()) as client:
        for _ in range(MAX_REDIRECTS + 1):
            address = checked_address(url)
            headers = dict(req["headers"])
            default_port = 443 if url.scheme == "https" else 80
            headers["host"] = url.host if url.port in (None, default_port) else f"{url.host}:{url.port}"
            if call.idempotency_key:
                headers["Idempotency-Key"] = call.idempotency_key  # the same key on every redirect of one call
            target = url.copy_with(host=address)
            request = client.build_request(method, target, headers=headers, content=content,
                                           extensions={"sni_hostname": url.host})
            call.fence()  # nothing leaves the worker once its lease may have expired
            try:
                response = client.send(request, stream=True)
            except httpx.TimeoutException:
                raise CapabilityError(f"{method} {url} timed out after {req['timeout']:g} s", "HttpTimeoutError") from None
            except httpx.HTTPError as e:
                raise CapabilityError(f"{method} {url} failed: {e}", "HttpError") from None
            try:
                location = response.headers.get("location")
                if response.status_code in (301, 302, 303, 307, 308) and location:
                    url = url.join(location)
                    if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                        method, content = "GET", None
                    continue
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > cap:
                        raise CapabilityError(f"the response of {url} is over the {cap} byte limit", "HttpResponseTooLargeError")
            finally:
                response.close()
            text = body.decode(response.encoding or "utf-8", errors="replace")
            result = {"status": response.status_code, "ok": response.is_success, "url": str(url),
                      "headers": dict(response.headers), "body": text}
            if "json" in response.headers.get("content-type", ""):
                try:
                    result["json"] = json.loads(text)
                except ValueError:
                    pass
            return result
    raise CapabilityError(f"more than {MAX_REDIRECTS} redirects from {args.get('url') if isinstance(args, dict) else args}", "HttpError")
