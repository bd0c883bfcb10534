"""A small checker of the Prometheus text exposition format (0.0.4), for the
/metrics of every daemon: parse() returns {(name, labels): value} and raises
AssertionError naming the line for anything a Prometheus server would refuse
or that breaks the conventions Outpost follows."""
import math
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(" + NAME + r")(\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse(text):
    assert text.endswith("\n"), "the body must end with a newline"
    samples, types, helps = {}, {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}: {line!r}"
        assert line, f"{where}: empty line"
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert re.fullmatch(NAME, name), where
            assert name not in helps, f"{where}: HELP twice"
            helps[name] = True
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            assert len(parts) == 4 and parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"), where
            assert parts[2] not in types, f"{where}: TYPE twice"
            types[parts[2]] = parts[3]
            continue
        assert not line.startswith("#"), f"{where}: unknown comment"
        m = SAMPLE_RE.match(line)
        assert m, f"{where}: not a sample"
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        labels = {}
        rest = labels_text
        while rest:
            lm = LABEL_RE.match(rest)
            assert lm, f"{where}: bad labels"
            assert lm.group(1) not in labels, f"{where}: label twice"
            labels[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
            assert rest == "" or rest.startswith(","), f"{where}: bad labels"
            rest = rest[1:]
        v = float("inf") if value == "+Inf" else float("-inf") if value == "-Inf" else float(value)
        assert not math.isnan(v), where
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        family = name if name in types else base
        assert family in types, f"{where}: no TYPE for {name}"
        if types[family] == "counter":
            assert name.endswith("_total"), f"{where}: a counter's name ends in _total"
            assert v >= 0, where
        key = (name, tuple(sorted(labels.items())))
        assert key not in samples, f"{where}: the same series twice"
        samples[key] = v
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]
