#!/usr/bin/python3
"""Checks that the repository's documentation resolves inside the repository.

usage: check_links.py [ROOT]      (ROOT: the repository root; default: two levels above this file)

Over the tracked files (`git ls-files`; every file under ROOT when ROOT is not a git work tree):

  (a) every relative link target in a *.md file exists: [text](target), ![alt](target) and
      reference definitions "[label]: target", outside code blocks and code spans; http(s):,
      mailto: and other URLs and pure #anchors are skipped, a #fragment is stripped;
  (b) every file name ending in .md mentioned anywhere (code comments, docs, scripts) names a
      tracked file: by path relative to the mentioning file or to ROOT, or by a path suffix
      (a bare name, "ns3/README.md") that only one tracked file ends with. Output files the
      tools write (OUTPUT_NAMES) and placeholders with an all-capitals directory part
      (DIR/NAME.md) are not files of the repository and are skipped;
  (c) no tracked file mentions the parent directory's read-only material (FORBIDDEN).

Each problem is printed as "file:line: message"; the exit code is 1 if there is any, else 0.
Standard library only (Debian's /usr/bin/python3).
"""
import os
import re
import subprocess
import sys
import urllib.parse

# Files the analysis tools write into a results directory, named in their docs.
OUTPUT_NAMES = {"summary.md"}

# Built from parts so that this file does not mention them itself.
_SHARED = "sh" + "ared"
FORBIDDEN = [".." + "/" + _SHARED] + [_SHARED + "/" + part for part in ("spec", "reference", "seeds")]

MD_NAME = re.compile(r"[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md(?![A-Za-z0-9_])")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+[\"'(][^)]*)?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
TOKEN_BEFORE = re.compile(r"[^\s()<>\[\]\"'`]*$")  # the part of a word before a match
URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")  # an all-capitals directory part: DIR/...
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True, capture_output=True).stdout
        files = [f for f in out.decode("utf-8", "surrogateescape").split("\0") if f]
        if files:
            return files
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != ".git")
        for name in sorted(names):
            files.append(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/"))
    return files


def read_text(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def blank_code_spans(line):
    """The line with inline code spans replaced by spaces (positions kept)."""
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


class Checker:
    def __init__(self, root):
        self.root = root
        self.files = tracked_files(root)
        self.file_set = set(self.files)
        self.dirs = set()
        for f in self.files:
            parts = f.split("/")
            for i in range(1, len(parts)):
                self.dirs.add("/".join(parts[:i]))
        self.problems = []
        self.notes = []

    def report(self, f, line, message):
        self.problems.append("%s:%d: %s" % (f, line, message))

    def exists(self, rel):
        return rel in self.file_set or rel in self.dirs

    @staticmethod
    def normalize(path):
        norm = os.path.normpath(path).replace(os.sep, "/")
        return "" if norm == "." else norm

    def run(self):
        for f in self.files:
            text = read_text(os.path.join(self.root, f))
            if text is None:
                continue
            lines = text.split("\n")
            self.check_forbidden(f, lines)
            self.check_md_names(f, lines)
            if f.endswith(".md"):
                self.check_links(f, lines)
        return self.problems

    # (a) ---------------------------------------------------------------------------------
    def check_links(self, f, lines):
        fence = None
        for number, line in enumerate(lines, 1):
            stripped = line.lstrip()
            marker = re.match(r"(`{3,}|~{3,})", stripped)
            if fence is not None:
                if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence):
                    fence = None
                continue
            if marker:
                fence = marker.group(1)
                continue
            if line.startswith("    ") or line.startswith("\t"):
                continue  # indented code block (or a continuation; links there are rare)
            visible = blank_code_spans(line)
            targets = [m.group(1) for m in INLINE_LINK.finditer(visible)]
            definition = REFERENCE_DEF.match(visible)
            if definition:
                targets.append(definition.group(1))
            for target in targets:
                self.check_target(f, number, target)

    def check_target(self, f, number, target):
        target = target.strip()
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1]
        if not target or target.startswith("#") or URL_SCHEME.match(target):
            return
        path = urllib.parse.unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not path:
            return
        if path.startswith("/"):
            resolved = self.normalize(path.lstrip("/"))
        else:
            resolved = self.normalize(os.path.join(os.path.dirname(f), path))
        if resolved.startswith("../") or resolved == "..":
            self.report(f, number, "link target '%s' points outside the repository" % target)
        elif not self.exists(resolved):
            self.report(f, number, "link target '%s' does not exist (resolved to %s)" % (target, resolved or "."))

    # (b) ---------------------------------------------------------------------------------
    def resolve_name(self, f, name):
        """'' if name resolves, else the reason it does not."""
        candidates = [self.normalize(os.path.join(os.path.dirname(f), name)), self.normalize(name.lstrip("/"))]
        if any(c in self.file_set for c in candidates):
            return ""
        suffix = name.lstrip("./")
        if "/" not in name or not name.startswith(("./", "../")):
            matches = [t for t in self.files if t == suffix or t.endswith("/" + suffix)]
            if len(matches) == 1:
                return ""
            if len(matches) > 1:
                return "'%s' is ambiguous (%d tracked files end with it); give its path" % (name, len(matches))
        return "'%s' names no tracked file" % name

    def check_md_names(self, f, lines):
        for number, line in enumerate(lines, 1):
            for match in MD_NAME.finditer(line):
                name = match.group(0).rstrip(".")
                if not name.endswith(".md") or name == ".md":
                    continue
                if URL_START.match(TOKEN_BEFORE.search(line[: match.start()]).group(0)):
                    continue  # part of a URL
                if os.path.basename(name) in OUTPUT_NAMES:
                    continue
                if any(PLACEHOLDER.fullmatch(part) for part in name.split("/")[:-1]):
                    continue  # a placeholder such as DIR/NAME.md
                reason = self.resolve_name(f, name)
                if not reason:
                    continue
                self.report(f, number, "cited file " + reason)

    # (c) ---------------------------------------------------------------------------------
    def check_forbidden(self, f, lines):
        for number, line in enumerate(lines, 1):
            for word in FORBIDDEN:
                if word in line:
                    self.report(f, number, "mentions '%s', which is not part of the repository" % word)


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        print("check_links.py: %s is not a directory" % root, file=sys.stderr)
        return 2
    checker = Checker(root)
    problems = checker.run()
    for note in checker.notes:
        print(note, file=sys.stderr)
    for problem in problems:
        print(problem)
    if problems:
        print("check_links.py: %d problem(s) in %d files checked" % (len(problems), len(checker.files)), file=sys.stderr)
        return 1
    print("check_links.py: %d files checked, every link and cited document resolves" % len(checker.files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
