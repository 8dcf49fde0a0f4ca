"""Security checks over the source: the server's safe defaults; no pickle loading, remote code
or raw HTML anywhere in the product."""

from __future__ import annotations

import re

from tests.helpers import ROOT

UNSAFE = {
    "pickle.load": re.compile(r"\bpickle\.loads?\("),
    "joblib.load": re.compile(r"\bjoblib\.load\("),
    "torch.load": re.compile(r"\btorch\.load\("),
    "trust_remote_code=True": re.compile(r"trust_remote_code\s*=\s*True"),
    "unsafe_allow_html=True": re.compile(r"unsafe_allow_html\s*=\s*True"),
}


def test_the_server_configuration_defaults_to_the_safe_one():
    import tomllib

    from core.data.files import MAX_FILE_BYTES

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    server = config["server"]
    assert server["address"] == "127.0.0.1"  # localhost only unless told otherwise
    assert server["enableXsrfProtection"] is True
    assert server["maxUploadSize"] * 2**20 == MAX_FILE_BYTES
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"  # no tracebacks in the browser
    assert "enableCORS" not in server  # Streamlit's default: CORS protection on
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Sharing a demo" in readme and "**Authentication in front**" in readme


def test_no_pickle_loading_remote_code_or_raw_html_in_the_product():
    files = [ROOT / "app.py"]
    for folder in ("core", "ui", "app_pages"):
        files += sorted((ROOT / folder).rglob("*.py"))
    assert len(files) > 20
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name, pattern in UNSAFE.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
