"""``init``: create an archive for the operator's own organisation.

Who counts as internal (the company's domains, SIP domains and numbers) decides
who is a data subject, so ``init`` asks for it up front (options, or prompts on
a terminal) instead of leaving the shipped example in ``archive.toml`` for the
operator to find. Without answers the example stays and every start warns.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import click
import phonenumbers

from archive.config import (
    DEFAULT_CONFIG_TOML,
    EXAMPLE_DOMAIN,
    example_values,
    example_warning,
)
from commarchive import runtime
from commarchive.cli.common import user_errors
from commarchive.settings import KeyProviderKind, Settings

_DOMAIN_RE: Final = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_NUMBER_RE: Final = re.compile(r"^\+[1-9]\d{1,14}$")
_EXAMPLE_LINES: Final = {
    "organisation": 'organisation = "Example Hosting"\n',
    "internal_domains": 'internal_domains = ["example.com"]\n',
    "internal_numbers": 'internal_numbers = ["+3120555"]\n',
    "internal_sip_domains": 'internal_sip_domains = ["pbx.example.com"]\n',
    "default_region": 'default_region = "NL"\n',
}
#: The example's billing-queue rule: its number means nothing to another company.
_BILLING_QUEUE_RULE: Final = (
    '[[tagging.rules]]\npurposes = ["legal"]\nchannel = "call"\n'
    'party_number_prefix = "+31205550300"\n'
)


@dataclass(frozen=True, slots=True)
class Organisation:
    """What ``init`` asks: None (or empty domains) keeps the example's value."""

    name: str | None = None
    domains: tuple[str, ...] = ()
    sip_domains: tuple[str, ...] = ()
    #: ``()``: the company has no numbers of its own to list (the example's are dropped).
    numbers: tuple[str, ...] | None = None
    region: str | None = None


def check_domain(value: str, option: str) -> str:
    domain = value.strip().lower().lstrip("@")
    if not _DOMAIN_RE.match(domain):
        raise ValueError(f"{option} {value!r}: not a domain name (like klantenservice.nl)")
    return domain


def check_number(value: str) -> str:
    number = re.sub(r"[\s\-().]", "", value)
    if not _NUMBER_RE.match(number):
        raise ValueError(f"--internal-number {value!r}: not an E.164 number or prefix "
                         "(like +31205550)")
    return number


def check_region(value: str) -> str:
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"--region {value!r}: not a two-letter country code (like NL, BE)")
    return region


def check_name(value: str) -> str:
    name = value.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValueError(f"--organisation {value!r}: give the company's name "
                         "(1 to 200 printable characters)")
    return name


def config_toml(org: Organisation) -> str:
    """The default ``archive.toml`` with the operator's organisation in place of the example.

    The example's mailbox rules move to the first internal domain; its billing
    queue rule, whose number belongs to the example, is left commented out.
    """
    text = DEFAULT_CONFIG_TOML
    values: dict[str, object] = {}
    if org.name is not None:
        values["organisation"] = org.name
    if org.domains:
        values["internal_domains"] = list(org.domains)
        text = text.replace(f'@{EXAMPLE_DOMAIN}"', f'@{org.domains[0]}"')
    if org.sip_domains:
        values["internal_sip_domains"] = list(org.sip_domains)
    if org.numbers is not None:
        values["internal_numbers"] = list(org.numbers)
        commented = "".join("# " + line + "\n" for line in _BILLING_QUEUE_RULE.splitlines())
        text = _replace_once(text, _BILLING_QUEUE_RULE,
                             "# Your billing queue's number (uncomment and set it):\n" + commented)
    if org.region is not None:
        values["default_region"] = org.region
    for key, value in values.items():
        # A JSON string or list of strings is also a valid TOML basic string or array.
        text = _replace_once(text, _EXAMPLE_LINES[key],
                             f"{key} = {json.dumps(value, ensure_ascii=False)}\n")
    tomllib.loads(text)  # a syntax slip here must fail before a keyring is created
    return text


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise AssertionError(f"the default archive.toml no longer has {old!r} once")
    return text.replace(old, new)


def _split(values: Sequence[str]) -> list[str]:
    """Repeated options, each possibly comma-separated (the form a prompt takes)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _interactive() -> bool:
    # Prompts go to stderr: stdout stays free for scripts, and a test capturing
    # stderr never gets a prompt that would wait for input.
    return sys.stdin.isatty() and sys.stderr.isatty()


def ask(name: str | None, domains: Sequence[str], sip_domains: Sequence[str],
        numbers: Sequence[str], region: str | None, *, prompt: bool) -> Organisation:
    """Checked answers from the options, prompting for missing ones when ``prompt``."""
    if prompt and name is None:
        name = click.prompt("Organisation (your company's name)", err=True)
    if prompt and not domains:
        domains = [click.prompt("Your company's e-mail domains, comma-separated "
                                "(everyone else is a customer)", err=True)]
    checked_domains = tuple(check_domain(d, "--internal-domain") for d in _split(domains))
    if prompt and not sip_domains and checked_domains:
        sip_domains = [click.prompt("SIP domains of your PBX and agents, comma-separated",
                                    default=", ".join(checked_domains), err=True)]
    if prompt and not numbers:
        numbers = [click.prompt("Your company's phone numbers or E.164 prefixes, "
                                "comma-separated (empty: none)", default="",
                                show_default=False, err=True)]
    if prompt and region is None:
        region = click.prompt("Country of your customers' local numbers", default="NL",
                              err=True)
    checked_sip = tuple(check_domain(d, "--internal-sip-domain") for d in _split(sip_domains))
    checked_numbers = tuple(check_number(n) for n in _split(numbers))
    # Once the operator describes the company, the example's numbers are not its own.
    configured = name is not None or bool(checked_domains) or bool(checked_numbers)
    return Organisation(
        name=check_name(name) if name is not None else None,
        domains=checked_domains,
        sip_domains=checked_sip or checked_domains,
        numbers=checked_numbers if configured else None,
        region=check_region(region) if region is not None else None,
    )


@click.command("init")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--organisation", "name", help="Your company's name.")
@click.option("--internal-domain", "domains", multiple=True, metavar="DOMAIN",
              help="Your company's e-mail domain (repeatable); also its SIP domain unless "
              "--internal-sip-domain is given. Every other address is a data subject.")
@click.option("--internal-sip-domain", "sip_domains", multiple=True, metavar="DOMAIN",
              help="SIP domain of your PBX and agents (repeatable).")
@click.option("--internal-number", "numbers", multiple=True, metavar="E164",
              help="Your company's phone number or E.164 prefix (repeatable).")
@click.option("--region", help="Country (ISO code) for numbers written without +, e.g. NL.")
@click.option("--no-input", is_flag=True, help="Never prompt, even on a terminal.")
@user_errors
def init_cmd(data_dir: Path, name: str | None, domains: tuple[str, ...],
             sip_domains: tuple[str, ...], numbers: tuple[str, ...], region: str | None,
             no_input: bool) -> None:
    """Create a new archive in DATA_DIR (refuses to overwrite one).

    Asks for your organisation on a terminal; given any of the options, it asks
    nothing (a setting not given keeps the example's value, warned about).
    The master key never goes into DATA_DIR: with the default ``file`` provider a
    new key file is written outside it (COMMARCHIVE_MASTER_KEY_FILE, else the
    per-user config directory), with the audit anchor and erasure ledger beside it.
    """
    settings = Settings(data_dir=data_dir)
    if runtime.is_archive(data_dir):
        raise FileExistsError(f"{data_dir} already holds an archive; refusing to overwrite it")
    # Options are the whole answer (a script, or run.sh started in the background,
    # must never stop at a question); only a bare ``init`` on a terminal asks.
    answered = name is not None or bool(domains or sip_domains or numbers) or region is not None
    org = ask(name, domains, sip_domains, numbers, region,
              prompt=not (no_input or answered) and _interactive())
    arc = runtime.init_archive(settings, config_toml=config_toml(org))
    archive_id = arc.keyring.archive_id
    leftover = example_values(arc.config)
    arc.close()
    click.echo(f"initialised archive in {data_dir}", err=True)
    if settings.key_provider is KeyProviderKind.FILE and settings.master_key is None:
        click.echo(f"master key written to {runtime.key_file_path(settings, archive_id)} "
                   "(mode 0600, outside the data directory); keep a copy somewhere safe "
                   "and never beside the data directory's backups", err=True)
        click.echo("warning: a key file on the same machine is for trying commarchive out; "
                   "production should use COMMARCHIVE_KEY_PROVIDER=passphrase or pkcs11",
                   err=True)
    click.echo(f"audit anchor: {runtime.anchor_path(settings, archive_id)}; erasure ledger: "
               f"{runtime.ledger_path(settings, archive_id)}", err=True)
    if leftover:
        click.echo("warning: " + example_warning(leftover, str(data_dir / "archive.toml")),
                   err=True)
