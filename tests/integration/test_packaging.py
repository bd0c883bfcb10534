"""Outpost installed as a system service: the Debian package built from this
checkout (scripts/build-deb: dpkg-buildpackage, debhelper, meson install)
holds the binary, a man page per subcommand, the systemd units and the
system user, installs them where Debian expects, passes lintian without an
error, and what it holds works: the binary runs from the unpacked tree, the
man pages render without a warning, the units pass systemd-analyze."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

DAEMONS = ["acs", "cwmp-proxy", "relay", "relay-client", "relay-connector", "gateway", "agent"]
PAGES = ["outpost"] + [f"outpost-{d}" for d in DAEMONS + ["cpe-sim", "certs", "certs-root", "certs-leaf",
                                                  "acs-keys-add", "acs-keys-list", "acs-keys-revoke"]]


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is missing: run scripts/install-deps")


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    need("dpkg-buildpackage")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: scripts/build-deb copies the checkout's files")
    out = tmp_path_factory.mktemp("deb")
    r = subprocess.run([str(ROOT / "scripts" / "build-deb"), str(out)], capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = [p for p in out.glob("outpost_*.deb")]
    assert len(debs) == 1, list(out.iterdir())
    return debs[0]


def test_package_contents(deb):
    r = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True)
    files = {line.split()[-1].lstrip(".") for line in r.stdout.splitlines()}
    assert "/usr/bin/outpost" in files
    for page in PAGES:
        assert f"/usr/share/man/man1/{page}.1.gz" in files, page
    for d in DAEMONS:
        assert f"/lib/systemd/system/outpost-{d}.service" in files, d
        assert f"/usr/share/doc/outpost/examples/{d}.yaml" in files, d
    assert "/usr/lib/sysusers.d/outpost.conf" in files
    assert "/usr/share/doc/outpost/copyright" in files
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Depends"], capture_output=True,
                          text=True, check=True).stdout
    assert "Package: outpost" in info and "adduser" in info and "libuv1" in info
    assert "libpq5" in info  # the store's PostgreSQL backend


def test_lintian_finds_no_error(deb):
    need("lintian")
    r = subprocess.run(["lintian", "--fail-on", "error", "--no-tag-display-limit", str(deb)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [l for l in r.stdout.splitlines() if l.startswith("E:")], r.stdout


def test_what_the_package_installs_works(deb, tmp_path):
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    binary = root / "usr" / "bin" / "outpost"
    r = subprocess.run([str(binary), "acs", "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("outpost acs "), r.stdout + r.stderr
    # every man page renders, and groff has nothing to warn about
    for page in PAGES:
        src = root / "usr" / "share" / "man" / "man1" / f"{page}.1.gz"
        r = subprocess.run(f"zcat {src} | groff -man -Tutf8 -ww -z", shell=True, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0 and not r.stderr, (page, r.stderr)
    # the units: systemd-analyze knows every directive and finds the binary
    # (pointed at the unpacked one: it is not installed on this machine)
    if shutil.which("systemd-analyze"):
        units = tmp_path / "units"
        units.mkdir()
        for d in DAEMONS:
            text = (root / "lib" / "systemd" / "system" / f"outpost-{d}.service").read_text()
            assert f"ExecStart=/usr/bin/outpost {d} --config /etc/outpost/{d}.yaml" in text
            assert "StateDirectory=outpost/" + d in text and "ExecReload=/bin/kill -HUP $MAINPID" in text
            (units / f"outpost-{d}.service").write_text(text.replace("/usr/bin/outpost", str(binary)))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no"] +
                           [str(p) for p in sorted(units.iterdir())],
                           capture_output=True, text=True, timeout=120, env=dict(os.environ, SYSTEMD_LOG_LEVEL="warning"))
        problems = [l for l in (r.stdout + r.stderr).splitlines() if "outpost-" in l]
        assert r.returncode == 0 and not problems, r.stdout + r.stderr
