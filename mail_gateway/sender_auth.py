"""SPF, DKIM and DMARC of an incoming message: a verdict to record, never an exception.

SPF with pyspf (its lookups go through our resolver, see `_spf_lookup`), DKIM with dkimpy, and
DMARC as a small evaluation of our own (RFC 7489): the `_dmarc.<From domain>` TXT record (else
the organisational domain's), and whether a passing DKIM signature (d=) or a passing SPF check
(MAIL FROM domain, else HELO) is aligned with the From domain (relaxed: same organisational
domain; strict: the same name). The organisational domain is the last two labels (no public
suffix list: `example.co.uk` counts as `co.uk`, which is lenient, never stricter).

All DNS goes through dnspython, to `[mail] dns_servers` when set ("ip" or "ip:port"), with short
timeouts; a lookup that fails makes that part `temperror`.
"""

from __future__ import annotations

import contextvars
import logging
import re
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

import dkim
import dns.exception
import dns.nameserver
import dns.resolver
import spf
from dkim.util import InvalidTagValueList, parse_tag_value

from mail_gateway.model import Envelope
from mail_gateway.settings import MailSettings

log = logging.getLogger(__name__)

TIMEOUT = 2.0  # one DNS query
LIFETIME = 5.0  # all tries of one lookup
SPF_TOTAL = 10  # seconds for the whole SPF evaluation


class DnsTempError(Exception):
    """A lookup that did not get an answer (timeout, no server): the result is `temperror`."""


def make_resolver(servers: tuple[str, ...] | list[str]) -> dns.resolver.Resolver:
    """A resolver for `servers` ("1.2.3.4", "1.2.3.4:5353", "[::1]:53"); the system's when empty."""
    if not servers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        nameservers: list[dns.nameserver.Nameserver] = []
        for server in servers:
            host, port = _host_port(server)
            nameservers.append(dns.nameserver.Do53Nameserver(host, port))
        resolver.nameservers = nameservers
    resolver.timeout, resolver.lifetime = TIMEOUT, LIFETIME
    return resolver


def _host_port(server: str) -> tuple[str, int]:
    server = server.strip()
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d+))?", server)
    if match:
        return match.group(1), int(match.group(2) or 53)
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, 53


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """The TXT records of `name` (each record's strings joined); [] when there are none."""
    try:
        answer = resolver.resolve(name.rstrip(".") + ".", "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:  # timeout, no nameservers, bad reply
        raise DnsTempError(f"{name}: {exc}") from exc
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


# --- SPF (pyspf with our resolver) -------------------------------------------------------------

_SPF_RESOLVER: contextvars.ContextVar[dns.resolver.Resolver | None] = contextvars.ContextVar(
    "spf_resolver", default=None
)
_SYSTEM_SPF_LOOKUP = spf.DNSLookup


def _spf_lookup(name: str, qtype: str, strict: bool = True, timeout: float = TIMEOUT) -> list[tuple[Any, Any]]:
    """pyspf's lookup hook (same contract as spf.DNSLookup_dnspython) on the current resolver."""
    resolver = _SPF_RESOLVER.get()
    if resolver is None:
        return _SYSTEM_SPF_LOOKUP(name, qtype, strict, timeout)
    try:
        answer = resolver.resolve(name, qtype, lifetime=min(float(timeout), LIFETIME))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    records: list[tuple[Any, Any]] = []
    for rdata in answer:
        if qtype in ("A", "AAAA"):
            records.append(((name, qtype), rdata.address))
        elif qtype == "MX":
            records.append(((name, qtype), (rdata.preference, rdata.exchange)))
        elif qtype == "PTR":
            records.append(((name, qtype), rdata.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            records.append(((name, qtype), rdata.strings))
    return records




def check_spf(resolver: dns.resolver.Resolver, ip: str | None, mail_from: str, helo: str | None) -> tuple[str, str]:
    """(result, checked domain): pass, fail, softfail, neutral, none, temperror, permerror."""
    domain = mail_from.rpartition("@")[2] if "@" in mail_from else (helo or "")
    if not ip or not domain:
        return "none", domain.lower()
    if spf.DNSLookup is not _spf_lookup:  # pyspf has no per-call resolver: its one hook uses the context's
        spf.DNSLookup = _spf_lookup
    token = _SPF_RESOLVER.set(resolver)
    try:
        result, _explanation = spf.check2(i=ip, s=mail_from or f"postmaster@{helo}", h=helo or domain,
                                          querytime=SPF_TOTAL)
    except Exception as exc:  # noqa: BLE001 - a verdict, never an exception
        log.warning("SPF check of %s failed: %s", domain, exc)
        result = "temperror"
    finally:
        _SPF_RESOLVER.reset(token)
    return str(result), domain.lower()


# --- DKIM --------------------------------------------------------------------------------------


def check_dkim(resolver: dns.resolver.Resolver, raw: bytes) -> tuple[str, list[str]]:
    """(result, domains d= of the passing signatures): pass (one signature verifies), fail,
    none (unsigned), temperror (key lookup failed) or permerror (unreadable signature)."""

    def dnsfunc(name: bytes, timeout: float = TIMEOUT) -> bytes | None:
        records = txt_records(resolver, name.decode("ascii", "replace"))
        return records[0].encode("utf-8") if records else None

    try:
        signer = dkim.DKIM(raw, timeout=int(LIFETIME))
    except Exception as exc:  # noqa: BLE001 - dkimpy raises several kinds on broken mail
        log.info("DKIM: message unreadable (%s)", exc)
        return "permerror", []
    signatures = [value for name, value in signer.headers if name.lower() == b"dkim-signature"]
    if not signatures:
        return "none", []
    passed: list[str] = []
    outcomes: set[str] = set()
    for idx, value in enumerate(signatures[:5]):
        try:
            domain = parse_tag_value(value).get(b"d", b"").decode("ascii", "replace").lower()
        except InvalidTagValueList:
            outcomes.add("permerror")
            continue
        try:
            ok = dkim.DKIM(raw, timeout=int(LIFETIME)).verify(idx=idx, dnsfunc=dnsfunc)
        except DnsTempError as exc:
            log.info("DKIM key of %s: %s", domain, exc)
            outcomes.add("temperror")
            continue
        except Exception as exc:  # noqa: BLE001 - a DKIMException or worse: this signature fails
            log.info("DKIM signature of %s invalid: %s", domain, exc)
            outcomes.add("fail")
            continue
        if ok:
            passed.append(domain)
        else:
            outcomes.add("fail")
    if passed:
        return "pass", passed
    for result in ("temperror", "fail", "permerror"):
        if result in outcomes:
            return result, []
    return "fail", []


# --- DMARC -------------------------------------------------------------------------------------


def organisational_domain(domain: str) -> str:
    labels = domain.lower().strip(".").split(".")
    return ".".join(labels[-2:])


def aligned(domain: str, from_domain: str, mode: str) -> bool:
    domain, from_domain = domain.lower().strip("."), from_domain.lower().strip(".")
    if not domain or not from_domain:
        return False
    if mode == "s":
        return domain == from_domain
    return organisational_domain(domain) == organisational_domain(from_domain)


def dmarc_record(resolver: dns.resolver.Resolver, from_domain: str) -> tuple[dict[str, str] | None, bool]:
    """(tags of the DMARC record, found at the organisational domain) or (None, False)."""
    candidates = [from_domain]
    org = organisational_domain(from_domain)
    if org != from_domain:
        candidates.append(org)
    for candidate in candidates:
        for text in txt_records(resolver, f"_dmarc.{candidate}"):
            if text.strip().lower().startswith("v=dmarc1"):
                tags = {}
                for part in text.split(";"):
                    key, eq, value = part.partition("=")
                    if eq:
                        tags[key.strip().lower()] = value.strip()
                return tags, candidate != from_domain
    return None, False


def from_domain_of(raw: bytes) -> str:
    """The domain of the (first) From address of the header block, "" when there is none."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:256 * 1024])
        values = [str(v) for v in headers.get_all("From", [])]
    except Exception:  # noqa: BLE001 - a broken header block: no From domain
        return ""
    for _name, address in getaddresses(values):
        if "@" in address:
            return address.rpartition("@")[2].strip().strip(">").lower()
    return ""


def check(raw: bytes, envelope: Envelope, mail: MailSettings) -> dict[str, Any]:
    """The SPF/DKIM/DMARC verdict of one message (JSON-friendly):
    `{"spf", "spf_domain", "dkim", "dkim_domains", "dmarc", "policy", "from_domain"}`."""
    resolver = make_resolver(mail.dns_servers)
    spf_result, spf_domain = check_spf(resolver, envelope.peer, envelope.mail_from, envelope.helo)
    dkim_result, dkim_domains = check_dkim(resolver, raw)
    from_domain = from_domain_of(raw)
    verdict: dict[str, Any] = {
        "spf": spf_result, "spf_domain": spf_domain, "dkim": dkim_result, "dkim_domains": dkim_domains,
        "dmarc": "none", "policy": None, "from_domain": from_domain or None,
    }
    if not from_domain:
        verdict["dmarc"] = "permerror"
        return verdict
    try:
        tags, inherited = dmarc_record(resolver, from_domain)
    except DnsTempError as exc:
        log.info("DMARC record of %s: %s", from_domain, exc)
        verdict["dmarc"] = "temperror"
        return verdict
    if tags is None:
        return verdict
    verdict["policy"] = (tags.get("sp") if inherited and tags.get("sp") else tags.get("p")) or "none"
    dkim_ok = any(aligned(d, from_domain, tags.get("adkim", "r")) for d in dkim_domains)
    spf_ok = spf_result == "pass" and aligned(spf_domain, from_domain, tags.get("aspf", "r"))
    verdict["dmarc"] = "pass" if dkim_ok or spf_ok else "fail"
    return verdict


def enforcement_reason(verdict: dict[str, Any], mail: MailSettings) -> str | None:
    """With `sender_auth = "enforce"`: the German quarantine reason when DMARC failed, else None."""
    if mail.sender_auth != "enforce" or verdict.get("dmarc") != "fail":
        return None
    return (f"Absender nicht bestätigt: DMARC für {verdict.get('from_domain')} fehlgeschlagen "
            f"(SPF {verdict.get('spf')}, DKIM {verdict.get('dkim')}, Richtlinie {verdict.get('policy')}).")
