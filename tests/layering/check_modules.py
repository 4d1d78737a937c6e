#!/usr/bin/python3
"""Every #include "<module>/..." in the core names the module itself or one it links.

Usage: check_modules.py MODULE_GRAPH
MODULE_GRAPH is the file framework/CMakeLists.txt writes at configure time (one line per
module: "<name> <directory>: <modules it links>"), so the graph is declared in one place
and the linker's view and the headers' view cannot drift apart. Also refuses a cycle and a
core module that includes a plugin's header.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z_]+)/[^"]+"')


def read_graph(path):
    graph = {}
    for line in open(path):
        if not line.strip():
            continue
        head, _, links = line.partition(":")
        name, directory = head.split(None, 1)
        graph[name] = (directory.strip(), set(links.split()))
    return graph


def closure(graph, name, seen=None):
    """All modules `name` reaches through its links."""
    seen = set() if seen is None else seen
    for below in graph[name][1]:
        if below not in seen:
            seen.add(below)
            closure(graph, below, seen)
    return seen


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    graph = read_graph(sys.argv[1])
    problems = []
    for name in graph:
        if name in closure(graph, name):
            problems.append("module %s links itself through a cycle" % name)
    for name, (directory, _) in sorted(graph.items()):
        allowed = closure(graph, name) | {name}
        for file in sorted(os.listdir(directory)):
            if not file.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(directory, file)
            for number, line in enumerate(open(path), 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                target = match.group(1)
                if target == "muonlab":  # the public plugin API sits below every module
                    continue
                if target not in graph:
                    problems.append("%s:%d: includes %s/..., which is not a core module" % (path, number, target))
                elif target not in allowed:
                    problems.append("%s:%d: module %s includes %s/... but does not link it (links: %s)"
                                    % (path, number, name, target, ", ".join(sorted(graph[name][1])) or "none"))
    for p in problems:
        print(p)
    if problems:
        print("check_modules.py: %d layering problem(s)" % len(problems))
        return 1
    print("check_modules.py: %d modules, every include goes down the graph" % len(graph))
    return 0


if __name__ == "__main__":
    sys.exit(main())
