"""Policy documents: the text of Chinese S&T plans, work reports and news items, with their metadata.

Snapshot layout (``sources/snapshots/policy_docs/``)::

    NAME.txt   or NAME.html     the document: UTF-8 text as published, or the HTML page
    NAME.meta.json              sidecar: title, issuer, region, date, url (and optionally kind, note)
    NAME.gold.jsonl             hand-labelled statements (for scoring the extractor; not read here)

``.txt`` files are kept byte for byte (page furniture included: the extractor's spans and the gold
labels refer to that text). ``.html`` pages are reduced to their body text: tags, scripts, styles,
navigation, header, footer and breadcrumb blocks dropped (``html_to_text``), then the lines that are
only page furniture (当前位置, 打印本页, 版权所有, ICP备…) removed. Character offsets of extracted
statements refer to the text stored in ``policy_documents.text``.

The sidecar is validated (``read_sidecar``); every problem is reported with the file and the field,
and ``python -m sources.policy_docs [DIR|FILE...]`` checks a folder or files without a traceback.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from datetime import date as Date
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from sources.common import SNAPSHOT_DIR, snapshot_relpath
from sti_portal.core import catalogue

FOLDER = "policy_docs"
SOURCE_ID = "policy_docs"
DOCUMENT_SUFFIXES = (".txt", ".html", ".htm")
SIDECAR_SUFFIX = ".meta.json"

# Sidecar fields: name -> (required, description). Values other than title may be null ("not known").
SIDECAR_FIELDS = {
    "title": (True, "the document's title as published"),
    "issuer": (False, "the issuing body"),
    "region": (False, "the region the document is about (黑龙江省, 江苏省苏州市), null if not known"),
    "date": (False, "publication date YYYY-MM-DD (or YYYY-MM, YYYY), null if not known"),
    "url": (False, "where it was published (http:// or https://), null if not known"),
    "kind": (False, "what it is: implementation plan, work report, progress news …"),
    "note": (False, "free text"),
    "source_quality": (False, "where the text was taken from: official site, mainstream news, mirror of an outlet"),
    "script": (False, "simplified or traditional: the characters the stored text is in"),
    "removed_spam_lines": (False, "integer: lines of injected spam removed from the page's text"),
}
_INTEGER_FIELDS = {"removed_spam_lines"}

DOCUMENT_COLUMNS = [
    "doc_id",  # file name without extension, e.g. 002_a85baa3503116d35
    "doc",  # file name, as in the extractor's `doc` field
    "title",
    "issuer",
    "region",  # as in the sidecar
    "region_code",  # GB/T 2260 code when the region is a province-level region (or 100000 全国), else null
    "province_code",  # the province the region lies in, when it can be told
    "date",  # as in the sidecar (YYYY-MM-DD / YYYY-MM / YYYY), null if unknown
    "year",  # year of `date`
    "url",
    "kind",
    "format",  # txt | html
    "n_chars",  # length of `text`
    "text_sha256",  # of `text` (UTF-8)
    "source_ref",  # snapshot-relative path of the document file
    "text",  # the document text (HTML reduced to body text)
]


class PolicyDocumentError(ValueError):
    """A policy document or its sidecar is unusable; the message names the file and the field."""


@dataclass(frozen=True)
class PolicyDocument:
    path: Path
    meta: dict
    text: str
    format: str

    @property
    def doc(self) -> str:
        return self.path.name

    @property
    def doc_id(self) -> str:
        return self.path.name.rsplit(".", 1)[0]


# --------------------------------------------------------------------------------------- sidecar

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def sidecar_path(document: Path) -> Path:
    return document.with_name(document.name.rsplit(".", 1)[0] + SIDECAR_SUFFIX)


def validate_sidecar(meta, where: str) -> list[str]:
    """Problems with a parsed sidecar, each a sentence naming the file and field (empty when valid)."""
    if not isinstance(meta, dict):
        return [
            f"{where}: must be a JSON object with the fields {', '.join(SIDECAR_FIELDS)} "
            f"(found a JSON {type(meta).__name__})"
        ]
    problems = []
    unknown = sorted(set(meta) - set(SIDECAR_FIELDS))
    if unknown:
        problems.append(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(SIDECAR_FIELDS)}"
        )
    for name, (required, meaning) in SIDECAR_FIELDS.items():
        value = meta.get(name)
        if value is None:
            if required:
                problems.append(f"{where}: field {name!r} is missing or null; it must be {meaning}")
            continue
        if name in _INTEGER_FIELDS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(f"{where}: field {name!r} must be a whole number of 0 or more (got {value!r})")
            continue
        if not isinstance(value, str):
            problems.append(
                f"{where}: field {name!r} must be a string or null, not {json.dumps(value, ensure_ascii=False)}"
            )
            continue
        if not value.strip():
            problems.append(f"{where}: field {name!r} is empty; write null when it is not known")
            continue
        if name == "date":
            problem = _date_problem(value)
            if problem:
                problems.append(f"{where}: field 'date' {problem} (got {value!r})")
        if name == "url" and not re.match(r"^https?://\S+$", value):
            problems.append(
                f"{where}: field 'url' must start with http:// or https:// and hold no spaces (got {value!r})"
            )
    return problems


def _date_problem(value: str) -> str | None:
    m = _DATE_RE.match(value.strip())
    if not m:
        return "must be YYYY-MM-DD, YYYY-MM or YYYY"
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    if not 1949 <= year <= 2100:
        return "has an implausible year"
    try:
        Date(year, month, day)
    except ValueError:
        return "is not a calendar date"
    return None


def read_sidecar(document: Path) -> dict:
    """The validated sidecar of a document; raises PolicyDocumentError listing every problem."""
    path = sidecar_path(document)
    if not path.exists():
        raise PolicyDocumentError(
            f"{path}: sidecar is missing; every policy document needs a {SIDECAR_SUFFIX} with at least a title"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise PolicyDocumentError(f"{path}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise PolicyDocumentError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    problems = validate_sidecar(meta, str(path))
    if problems:
        raise PolicyDocumentError("\n".join(problems))
    return meta


# --------------------------------------------------------------------------------------- text

# Whole lines that are page furniture on government sites (kept short: a sentence is never dropped).
_FURNITURE_LINE = re.compile(
    r"当前位置|您现在的位置|您的位置|首页\s*[>›»/]|[>›»]\s*正文|打印本页|关闭窗口|【\s*(?:打印|关闭|大|中|小)\s*】|"
    r"字号\s*[:：]?\s*[大中小]|分享到|扫一扫|版权所有|Copyright|©|ICP\s*备|公网安备|网站标识码|主办单位|"
    r"承办单位|技术支持\s*[:：]|网站地图|联系我们|免责声明|欢迎访问|浏览次数|阅读次数|访问量",
    re.I,
)
MAX_FURNITURE_LINE = 80


def strip_furniture_lines(text: str) -> str:
    return "\n".join(
        line for line in text.split("\n") if not (len(line) <= MAX_FURNITURE_LINE and _FURNITURE_LINE.search(line))
    )


# The page's visible text, hand-written on html.parser (standard library): the pages are small and a
# block/skip rule of twenty lines did not justify a dependency such as BeautifulSoup or trafilatura.
class _TextExtractor(HTMLParser):
    """Visible text of an HTML page, one block element per line, navigation and footers dropped."""

    SKIP = {
        "script",
        "style",
        "noscript",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "select",
        "button",
        "iframe",
        "svg",
        "template",
        "head",
    }
    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "table",
        "ul",
        "ol",
        "dd",
        "dt",
        "blockquote",
        "pre",
        "hr",
        "thead",
        "tbody",
        "caption",
    }
    CELL = {"td", "th"}  # cells of one table row stay on one line, tab-separated
    BOILER = re.compile(r"nav|menu|footer|header|breadcrumb|sidebar|copyright|share|crumb|banner|toolbar", re.I)
    VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip in self.stack)

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCK:
            self.parts.append("\n")
        elif tag in self.CELL:
            self.parts.append("\t")
        if tag in self.VOID:
            return
        attr = " ".join(str(v) for k, v in attrs if k in ("class", "id", "role") and v)
        skip = tag in self.SKIP or bool(attr and self.BOILER.search(attr))
        self.stack.append((tag, skip))

    def handle_endtag(self, tag):
        if tag in self.BLOCK:
            self.parts.append("\n")
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if not self._skipping():
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Body text of an HTML page: tags stripped, boilerplate blocks skipped, blank lines squeezed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = []
    for line in "".join(parser.parts).split("\n"):
        cells = [re.sub(r"[ \r\f\v]+", " ", c).strip() for c in line.split("\t")]
        lines.append("\t".join(c for c in cells if c))
    return "\n".join(line for line in lines if line)


def decode_html(raw: bytes) -> str:
    """HTML bytes as text, in the charset the page declares (GB2312/GBK read as their superset GB18030)."""
    m = re.search(rb"charset=[\"']?([A-Za-z0-9_-]+)", raw[:4096])
    encoding = m.group(1).decode("ascii").lower() if m else "utf-8"
    if encoding in ("gb2312", "gbk"):
        encoding = "gb18030"
    return raw.decode(encoding)


def html_document_text(raw: bytes) -> str:
    """Body text of an HTML page: boilerplate blocks and furniture lines removed."""
    return strip_furniture_lines(html_to_text(decode_html(raw)))


def read_meta(path: Path) -> dict:
    """The sidecar NAME.meta.json next to NAME.txt / NAME.html, unvalidated ({} when there is none):
    for the extractor's command line, which also reads documents nobody registered."""
    meta_path = sidecar_path(Path(path))
    if not meta_path.exists():
        return {}
    meta = json.loads(meta_path.read_text(encoding="utf-8-sig"))
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path}: sidecar is not a JSON object")
    return meta


def read_text(path: str | Path) -> str:
    """Document text as stored in ``policy_documents.text``: UTF-8 ``.txt`` as is, ``.html`` reduced to its
    body text. Raises ``OSError`` / ``UnicodeDecodeError``."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix.lower() in (".html", ".htm"):
        return html_document_text(raw)
    return raw.decode("utf-8-sig")


def read_document(path: Path) -> PolicyDocument:
    """A document file and its validated sidecar; raises PolicyDocumentError with a clear message."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise PolicyDocumentError(f"{path}: not a policy document (expected {', '.join(DOCUMENT_SUFFIXES)})")
    meta = read_sidecar(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyDocumentError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        if suffix == ".txt":
            text, fmt = raw.decode("utf-8-sig"), "txt"
        else:
            text, fmt = html_document_text(raw), "html"
    except (UnicodeDecodeError, LookupError) as exc:
        where = f" (byte {exc.start})" if isinstance(exc, UnicodeDecodeError) else ""
        raise PolicyDocumentError(f"{path}: cannot decode the text{where}; save it as UTF-8") from None
    if not text.strip():
        raise PolicyDocumentError(f"{path}: no text (after removing markup and page furniture)")
    return PolicyDocument(path=path, meta=meta, text=text, format=fmt)


def document_files(folder: Path) -> list[Path]:
    """The document files of a folder, one per name; a sidecar without a document is an error."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)
    stems: dict[str, Path] = {}
    problems = []
    for path in files:
        stem = path.name.rsplit(".", 1)[0]
        if stem in stems:
            problems.append(f"{path}: two documents named {stem} ({stems[stem].name} and {path.name})")
        stems[stem] = path
    for sidecar in sorted(folder.glob(f"*{SIDECAR_SUFFIX}")):
        stem = sidecar.name[: -len(SIDECAR_SUFFIX)]
        if stem not in stems:
            problems.append(f"{sidecar}: sidecar without a document ({stem}.txt or {stem}.html)")
    if problems:
        raise PolicyDocumentError("\n".join(problems))
    return files


def read_documents(folder: Path) -> list[PolicyDocument]:
    """Every document of a folder; all problems of all files are reported together."""
    documents, problems = [], []
    for path in document_files(folder):
        try:
            documents.append(read_document(path))
        except PolicyDocumentError as exc:
            problems.append(str(exc))
    if problems:
        raise PolicyDocumentError("\n".join(problems))
    return documents


# --------------------------------------------------------------------------------------- regions


def region_codes(region: str | None) -> tuple[str | None, str | None]:
    """(region_code, province_code): the GB/T 2260 code of a province-level region (全国: 100000) and
    the code of the province a region lies in (黑龙江省哈尔滨市, 哈尔滨市 → 230000). A city or district has
    no region_code here: the warehouse holds provinces only."""
    if not region or region.startswith("unknown"):
        return None, None
    region = region.strip()
    if region in ("全国", "中国", "China", "national"):
        return "100000", None
    provinces = catalogue.china_regions()
    provinces = provinces[provinces["level"] == "province"]
    for code, short, full in zip(provinces["region_code"], provinces["name_zh"], provinces["name_zh_full"]):
        if region.startswith(short):
            return (code if region in (short, full) else None), code
    for full, short, code in zip(
        catalogue.places()["name_zh_full"], catalogue.places()["name_zh"], catalogue.places()["province_code"]
    ):
        if region.startswith((full, short)):
            return None, code
    return None, None


# --------------------------------------------------------------------------------------- adapter


def document_row(document: PolicyDocument, snapshot_dir: Path = SNAPSHOT_DIR) -> dict:
    meta = document.meta
    region_code, province_code = region_codes(meta.get("region"))
    date = meta.get("date")
    return {
        "doc_id": document.doc_id,
        "doc": document.doc,
        "title": meta.get("title"),
        "issuer": meta.get("issuer"),
        "region": meta.get("region"),
        "region_code": region_code,
        "province_code": province_code,
        "date": date,
        "year": int(date[:4]) if date else None,
        "url": meta.get("url"),
        "kind": meta.get("kind"),
        "format": document.format,
        "n_chars": len(document.text),
        "text_sha256": hashlib.sha256(document.text.encode("utf-8")).hexdigest(),
        "source_ref": snapshot_relpath(document.path, snapshot_dir),
        "text": document.text,
    }


def extract(snapshot_dir: Path = SNAPSHOT_DIR) -> pd.DataFrame:
    """One row per policy document in ``snapshot_dir/policy_docs`` (DOCUMENT_COLUMNS)."""
    folder = Path(snapshot_dir) / FOLDER
    if not folder.is_dir():
        return pd.DataFrame(columns=DOCUMENT_COLUMNS)
    rows = [document_row(d, Path(snapshot_dir)) for d in read_documents(folder)]
    frame = pd.DataFrame(rows, columns=DOCUMENT_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return frame.sort_values("doc_id").reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    """Check policy documents and their sidecars: ``python -m sources.policy_docs [DIR|FILE...]``."""
    args = sys.argv[1:] if argv is None else argv
    targets = [Path(a) for a in args] or [SNAPSHOT_DIR / FOLDER]
    failed = False
    for target in targets:
        try:
            if target.is_dir():
                documents = read_documents(target)
            elif target.exists():
                documents = [read_document(target)]
            else:
                raise PolicyDocumentError(f"{target}: no such file or directory")
        except PolicyDocumentError as exc:
            for line in str(exc).splitlines():
                print(f"error: {line}", file=sys.stderr)
            failed = True
            continue
        for d in documents:
            print(
                f"ok  {d.doc}  {d.format}  {len(d.text)} chars  {d.meta.get('region') or '-'}  "
                f"{d.meta.get('date') or '-'}  {d.meta['title']}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass
    sys.exit(main())
