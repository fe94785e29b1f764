"""No key material or tokens in the repository: every file git tracks (and every new file
it would add: untracked, not ignored) is scanned for private key blocks, Google
service-account JSON keys, AWS keys, GitHub tokens, Google API keys and OAuth secrets,
Slack and Stripe tokens, and high-entropy values assigned to names such as secret, token or
password.

The scanner is checked against samples planted in a temporary directory (assembled at run
time, so this file holds none): it finds each of them and passes the harmless look-alikes.
A line that must hold a look-alike can say so with ``secret-scan: allow`` (none does today).
"""

from __future__ import annotations

import math
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOW = "secret-scan: allow"

_ASSIGNED_NAME = r"[\w.-]*(?:secret|token|passw(?:or)?d|api_?key|private_?key|credential)s?[\w-]*"
PATTERNS: dict[str, re.Pattern[str]] = {
    "private key block": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"
    ),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    "Google OAuth client secret": re.compile(r"\bGOCSPX-[0-9A-Za-z_-]{28}"),
    "Google OAuth access token": re.compile(r"\bya29\.[0-9A-Za-z_-]{30,}"),
    "Slack token": re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"),
    "Stripe live key": re.compile(r"\b[sr]k_live_[0-9A-Za-z]{20,}"),
    "high-entropy assignment": re.compile(
        rf"(?i)\b({_ASSIGNED_NAME})[\"']?\s*(?::=|[:=])\s*[bfr]?[\"']([^\"'\s]{{16,}})[\"']"
    ),
}
# A Google service-account key file: both fields in one JSON text.
SERVICE_ACCOUNT = (
    re.compile(r"\"type\"\s*:\s*\"service_account\""),
    re.compile(r"\"private_key\"\s*:\s*\""),
)
MIN_ENTROPY = 3.5  # bits per character: random base64/hex keys reach 3.7-6; words stay below


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def random_looking(value: str) -> bool:
    """A key's look: letters and digits mixed, with high entropy (names, paths, words and
    placeholders have no digits or repeat their letters)."""
    mixed = any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    return mixed and entropy(value) >= MIN_ENTROPY


def scan_text(text: str) -> list[str]:
    """What in ``text`` looks like key material or a token: ``"line N: kind"`` each."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if ALLOW in line:
            continue
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(line):
                if kind == "high-entropy assignment" and not random_looking(match.group(2)):
                    continue
                found.append(f"line {number}: {kind}")
    if all(pattern.search(text) for pattern in SERVICE_ACCOUNT):
        found.append("service-account JSON key")
    return found


def files(root: Path) -> list[str]:
    """The files git tracks under ``root`` and the untracked ones it would add."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    # a name listed but absent: deleted in the work tree, or a submodule
    return [name for name in filter(None, listed.split("\0")) if (root / name).is_file()]


def scan(root: Path) -> dict[str, list[str]]:
    """Every finding in :func:`files`, by path (binary files are read as Latin-1: a PEM
    block in one is still found)."""
    findings = {}
    for name in files(root):
        found = scan_text((root / name).read_bytes().decode("latin-1"))
        if found:
            findings[name] = found
    return findings


def test_the_repository_holds_no_key_material_or_tokens():
    assert len(files(ROOT)) > 200  # the whole repository, not a corner of it
    findings = scan(ROOT)
    assert not findings, findings


def _pem() -> str:
    begin, end = "-----BEGIN ", "-----END "
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    return f"{begin}PRIVATE KEY-----\n{body}\n{end}PRIVATE KEY-----\n"


def _random(alphabet: str, size: int, seed: int = 7) -> str:
    import random

    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(size))


UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = UPPER + UPPER.lower() + "0123456789"
B64 = ALNUM + "+/"

# name of a planted file -> (its text, the kind of finding it must produce)
PLANTED = {
    "id_rsa": (_pem(), "private key block"),
    "openssh": (_pem().replace("PRIVATE", "OPENSSH PRIVATE"), "private key block"),
    "sa.json": (
        '{\n  "type": "service_' + 'account",\n  "project_id": "p",\n'
        '  "private_' + 'key": "' + _pem().replace("\n", "\\n") + '"\n}\n',
        "service-account JSON key",
    ),
    "aws.env": ("AWS_ACCESS_KEY_ID=" + "AKIA" + _random(UPPER + "234567", 16), "AWS access key"),
    "aws.ini": (
        "aws_secret_access_key = " + _random(B64, 40),
        "AWS secret access key",
    ),
    "gh.sh": ("export GH=" + "ghp_" + _random(ALNUM, 36), "GitHub token"),
    "pat.txt": ("github_" + "pat_" + _random(ALNUM + "_", 82), "GitHub token"),
    "maps.js": ('const key = "' + "AI" + "za" + _random(ALNUM + "-_", 35) + '";', "Google API"),
    "settings.py": ('API_TOKEN = "' + _random(ALNUM, 32) + '"', "high-entropy assignment"),
    "config.yaml": ("db_password: '" + _random(B64, 24) + "'", "high-entropy assignment"),
    "app.json": ('{"client_secret": "' + _random(ALNUM, 40) + '"}', "high-entropy assignment"),
}
HARMLESS = {
    "words.py": 'FEEDBACK_SECRET = "in-process tests\' secret"\npassword = "changeme-changeme"\n',
    "names.py": 'token_path = "client/auth/token_cache"\nsecret = "digitrun-feedback-secret"\n',
    "hash.py": 'password_sha256 = "' + "ab" * 32 + '"\nTOKEN_TTL = "3600"\n',
    "doc.md": "A private key never goes here; the service account has no key file.\n",
    "env.tf": 'secret_id = "feedback-secret"\ntoken = var.token_from_environment\n',
}


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A git work tree holding every planted sample and every harmless look-alike."""
    for name, (text, _kind) in PLANTED.items():
        (tmp_path / name).write_text(text)
    for name, text in HARMLESS.items():
        (tmp_path / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    subprocess.run(["git", "-C", str(tmp_path), "add", "id_rsa", "sa.json"], check=True)
    return tmp_path


def test_the_scan_finds_every_planted_sample_and_passes_the_look_alikes(planted):
    findings = scan(planted)
    assert set(findings) == set(PLANTED), findings  # tracked and untracked files alike
    for name, (_text, kind) in PLANTED.items():
        assert any(kind in finding for finding in findings[name]), (name, findings[name])


def test_an_allowed_line_and_an_ignored_file_are_not_reported(planted):
    (planted / "allowed.py").write_text(PLANTED["gh.sh"][0] + f"  # {ALLOW}\n")
    (planted / ".gitignore").write_text("ignored.txt\n")
    (planted / "ignored.txt").write_text(PLANTED["gh.sh"][0])
    findings = scan(planted)
    assert "allowed.py" not in findings and "ignored.txt" not in findings
    assert "gh.sh" in findings


def test_entropy_separates_keys_from_words():
    assert entropy(_random(B64, 40)) > MIN_ENTROPY > entropy("changeme-changeme")
    assert entropy("aaaa") == 0.0
