"""The OpenWrt package's init script (contrib/openwrt/outpost-agent): UCI
options become `outpost agent` arguments that the agent accepts and acts on.

OpenWrt itself is not here: a stub of /lib/functions.sh and procd
(openwrt_stub/functions.sh) reads the UCI file and records the command
line start_service() hands to procd; the agent then runs with exactly that
command line."""
import os
import stat
import subprocess
from pathlib import Path

import requests

from conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "contrib" / "openwrt" / "outpost-agent"
STUB = Path(__file__).resolve().parent / "openwrt_stub" / "functions.sh"


def start_service(tmp_path, uci_text):
    """Run the init script's start_service with UCI_TEXT as
    /etc/config/outpost-agent -> (exit code, argv list, stderr)."""
    cfg = tmp_path / "config"
    cfg.mkdir(exist_ok=True)
    (cfg / "outpost-agent").write_text(uci_text)
    out = tmp_path / "procd.out"
    out.write_bytes(b"")
    env = dict(os.environ, UCI_CONFIG_DIR=str(cfg), PROCD_OUT=str(out),
               OUTPOST_AGENT_ARGV=str(PKG / "files" / "argv.sh"),
               OUTPOST_AGENT_RUN=str(tmp_path / "run"))
    script = f'. "{STUB}"; . "{PKG / "files" / "outpost-agent.init"}"; start_service'
    r = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    argv = [a for a in out.read_bytes().decode().split("\0")][:-1]
    return r.returncode, argv, r.stderr


def test_uci_to_agent_argv(outpost, tmp_path):
    gw = f"ws://127.0.0.1:{free_port()}/tunnel"
    data = tmp_path / "data"
    uci = f"""
config agent 'main'
	option enabled '1'
	list gateway '{gw}'
	list gateway 'ws://127.0.0.1:9/tunnel'
	option name 'router-1'
	option key 'secret key with spaces'
	option insecure '1'
	option listen '127.0.0.1:0'
	option admin_listen 'off'
	option data_dir '{data}'
	option api_token 'tok'
	option max_streams '1024'
	option window_budget '16MiB'
	option reconnect_max '2s'
	option log_level 'debug'

config forward
	option local '0'
	option gateway 'office'
	option ip '10.0.0.5'
	option remote '80'

config allow
	list net '192.168.1.0/24'
	list net '10.0.0.0/8'
	list ports '22'
	list ports '8000-8080'
	option from 'office'

config socks
	option listen '127.0.0.1:0'
	option gateway 'office'
"""
    rc, argv, err = start_service(tmp_path, uci)
    assert rc == 0, err
    assert argv[:2] == ["/usr/bin/outpost", "agent"], argv
    args = argv[2:]
    pairs = list(zip(args, args[1:]))
    assert ("--gateway", gw) in pairs and ("--gateway", "ws://127.0.0.1:9/tunnel") in pairs
    assert ("--name", "router-1") in pairs and ("--admin-listen", "") in pairs
    assert ("--max-streams", "1024") in pairs and ("--window-budget", "16MiB") in pairs
    assert "--insecure" in args
    assert ("--forward", "local=0 gateway=office ip=10.0.0.5 remote=80") in pairs
    assert ("--allow", "net=192.168.1.0/24,10.0.0.0/8 ports=22,8000-8080 from=office") in pairs
    assert ("--socks", "listen=127.0.0.1:0 gateway=office") in pairs
    # the key never on the command line: in a root-only file
    assert "--key" not in args and not any("secret" in a for a in args)
    keyfile = Path(args[args.index("--key-file") + 1])
    assert keyfile.read_text() == "secret key with spaces\n"
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600

    # the agent takes that command line as it is, and does what it says
    ag = outpost(*argv[1:], timeout=30)
    auth = {"Authorization": "Bearer tok"}
    fw = requests.get(ag.url() + "/api/forwards", headers=auth, timeout=10).json()
    assert [(f["gateway"], f["ip"], f["remote"]) for f in fw] == [("office", "10.0.0.5", 80)], fw
    socks = requests.get(ag.url() + "/api/socks", headers=auth, timeout=10).json()
    assert [s["gateway"] for s in socks] == ["office"], socks
    st = requests.get(ag.url() + "/api/status", headers=auth, timeout=10).json()
    assert st["name"] == "router-1" and len(st["gateways"]) == 2, st
    assert data.is_dir()
    ag.stop()


def test_uci_disabled_and_incomplete(tmp_path):
    # disabled (the shipped default): nothing started, and it says how to enable
    shipped = (PKG / "files" / "outpost-agent.config").read_text()
    rc, argv, err = start_service(tmp_path, shipped)
    assert rc == 0 and argv == [] and "enabled=1" in err
    # the shipped file with enabled=1 maps to a valid command line too
    rc, argv, err = start_service(tmp_path, shipped.replace("option enabled '0'",
                                                            "option enabled '1'"))
    assert rc == 0, err
    r = subprocess.run(["sh", "-n", str(PKG / "files" / "outpost-agent.init")])
    assert r.returncode == 0
    # no name: refused with the reason, no command line handed to procd
    rc, argv, err = start_service(tmp_path, "config agent 'main'\n\toption enabled '1'\n"
                                            "\tlist gateway 'wss://g:7000/tunnel'\n")
    assert rc != 0 and "option name is required" in err
    rc, argv, err = start_service(tmp_path, "config agent 'main'\n\toption enabled '1'\n"
                                            "\toption name 'r'\n")
    assert rc != 0 and "list gateway is required" in err
