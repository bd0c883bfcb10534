"""A real NAT from network namespaces, for test_nat_netns.py and
bench/nat-reach.sh:

    lan (CPEs)  198.18.1.2/24 --- 198.18.1.1 router 198.18.0.1 --- 198.18.0.2/24  wan (ACS)
                                   (nftables masquerade on its wan side)
    mgmt: the caller's namespace 198.18.3.1/30 --- 198.18.3.2/30 wan (the ACS's API)

The lan's default route is the router; the wan has no route to the lan (it
only sees the router's address, like the Internet does); the caller's
namespace only reaches the wan's management address. Masquerade picks
random ports from 20000-60000, so a flushed mapping (conntrack -F) comes
back on another port. Addresses are from 198.18.0.0/15 (RFC 2544); nothing
routes anywhere else.

    python3 netns_nat.py up TAG | down TAG   (root; TAG: a few letters)
"""
import shutil
import subprocess
import sys

LAN_IP, ROUTER_LAN, ROUTER_WAN, WAN_IP, MGMT_HOST, MGMT_WAN = (
    "198.18.1.2", "198.18.1.1", "198.18.0.1", "198.18.0.2", "198.18.3.1", "198.18.3.2")


def run(*cmd):
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout


class Nat:
    def __init__(self, tag):
        self.tag = tag
        self.lan, self.router, self.wan = f"op-lan-{tag}", f"op-rtr-{tag}", f"op-wan-{tag}"
        self.created = []

    def ns(self, name, *cmd):
        return run("ip", "netns", "exec", name, *cmd)

    def exec_prefix(self, name):
        return ["ip", "netns", "exec", name]

    def up(self):
        for n in (self.lan, self.router, self.wan):
            run("ip", "netns", "add", n)
            self.created.append(n)
            self.ns(n, "ip", "link", "set", "lo", "up")
        t = self.tag
        # veth names are at most 15 bytes
        run("ip", "link", "add", f"l{t}", "netns", self.lan, "type", "veth", "peer", "name", f"rl{t}",
            "netns", self.router)
        run("ip", "link", "add", f"w{t}", "netns", self.wan, "type", "veth", "peer", "name", f"rw{t}",
            "netns", self.router)
        run("ip", "link", "add", f"m{t}", "type", "veth", "peer", "name", f"mw{t}", "netns", self.wan)
        self.created.append(f"m{t}")
        self.ns(self.lan, "ip", "addr", "add", f"{LAN_IP}/24", "dev", f"l{t}")
        self.ns(self.lan, "ip", "link", "set", f"l{t}", "up")
        self.ns(self.lan, "ip", "route", "add", "default", "via", ROUTER_LAN)
        self.ns(self.router, "ip", "addr", "add", f"{ROUTER_LAN}/24", "dev", f"rl{t}")
        self.ns(self.router, "ip", "addr", "add", f"{ROUTER_WAN}/24", "dev", f"rw{t}")
        self.ns(self.router, "ip", "link", "set", f"rl{t}", "up")
        self.ns(self.router, "ip", "link", "set", f"rw{t}", "up")
        self.ns(self.router, "sysctl", "-q", "net.ipv4.ip_forward=1")
        self.ns(self.router, "nft", "add", "table", "ip", "nat")
        self.ns(self.router, "nft", "add", "chain", "ip", "nat", "post",
                "{ type nat hook postrouting priority 100 ; }")
        self.ns(self.router, "nft", "add", "rule", "ip", "nat", "post", "oifname", f"rw{t}",
                "meta", "l4proto", "{ tcp, udp }", "masquerade", "to", ":20000-60000", "random")
        self.ns(self.router, "nft", "add", "rule", "ip", "nat", "post", "oifname", f"rw{t}", "masquerade")
        self.ns(self.wan, "ip", "addr", "add", f"{WAN_IP}/24", "dev", f"w{t}")
        self.ns(self.wan, "ip", "link", "set", f"w{t}", "up")
        self.ns(self.wan, "ip", "addr", "add", f"{MGMT_WAN}/30", "dev", f"mw{t}")
        self.ns(self.wan, "ip", "link", "set", f"mw{t}", "up")
        run("ip", "addr", "add", f"{MGMT_HOST}/30", "dev", f"m{t}")
        run("ip", "link", "set", f"m{t}", "up")
        return self

    def flush(self):
        """Forget every NAT mapping (the router's conntrack table)."""
        self.ns(self.router, "conntrack", "-F")

    def down(self):
        errors = []
        t = self.tag
        for cmd in (["ip", "link", "del", f"m{t}"],
                    ["ip", "netns", "del", self.lan], ["ip", "netns", "del", self.router],
                    ["ip", "netns", "del", self.wan]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0 and "Cannot find" not in r.stderr and "No such" not in r.stderr:
                errors.append(f"{' '.join(cmd)}: {r.stderr.strip()}")
        return errors


def unavailable():
    """Why the namespace NAT cannot be built here, or None."""
    import os
    if os.geteuid() != 0:
        return "needs root (network namespaces, nftables, conntrack)"
    for tool in ("ip", "nft", "conntrack"):
        if not shutil.which(tool):
            return f"needs {tool} (scripts/install-deps installs it)"
    return None


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("up", "down"):
        sys.exit(__doc__)
    n = Nat(sys.argv[2])
    if sys.argv[1] == "up":
        try:
            n.up()
        except RuntimeError as e:
            n.down()
            sys.exit(str(e))
    else:
        errs = n.down()
        if errs:
            sys.exit("\n".join(errs))
