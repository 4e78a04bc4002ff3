"""Filtering, sorting and column choice for every module read: opt-in query parameters that
ITFlow ignores, so no ITFlow client changes behaviour.

    filter=asset_name=like=*srv*;(asset_status==Deployed,asset_make=in=(Dell,HP))
    filter[asset_make]=Dell            the same as filter=asset_make==Dell (several are ANDed)
    sort=asset_name,-asset_id          '-' descending; also sort=asset_name:desc, sort=asset_name&order=desc
    fields=asset_id,asset_name         only these columns in each row

The filter grammar is RSQL/FIQL's (GLPI and Spring's rsql-parser use the same):

    expression := and (',' and)*                 ',' is OR
    and        := term (';' term)*               ';' is AND, binding tighter than ','
    term       := '(' expression ')' | column operator argument
    operator   := '==' | '!=' | '<' | '<=' | '>' | '>=' | '=like=' | '=in=' | '=out=' | '=isnull='
                  (FIQL's '=eq=', '=ne=', '=lt=', '=le=', '=gt=', '=ge=' too)
    argument   := value | '(' value (',' value)* ')'
    value      := "double quoted" | 'single quoted' | anything up to ( ) ; , or a space

No parser library fitted (the PyPI ones are unmaintained, 0.0.x, or lack =in=(...) lists and
ORM-free SQL), so this is a small recursive-descent parser. Columns are only the module's own
table's (checked by name before any SQL exists, then written from our own column list); every
value is a bound parameter; the result is ANDed to the key's scope condition, never replacing it.
Bad input is refused with HTTP 200 "False" naming the parameter and the culprit (docs/contract.md section 4).
"""
import re
from functools import cache

from ..itflow import schema
from .envelope import Refused

MAX_LENGTH = 4000        # characters of one filter
MAX_COMPARISONS = 50
MAX_DEPTH = 10           # nested parentheses

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR = re.compile(r"==|!=|<=|>=|<|>|=[a-z]+=")
_UNQUOTED = re.compile(r"""[^\s"'();,]+""")
_ALIASES = {"=eq=": "==", "=ne=": "!=", "=lt=": "<", "=le=": "<=", "=gt=": ">", "=ge=": ">="}
_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LISTS = {"=in=": "IN", "=out=": "NOT IN"}
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "=like=", "=in=", "=out=", "=isnull=", *_ALIASES)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
# '!' escapes LIKE's own wildcards: the same ESCAPE character works on SQLite and MariaDB
# (a backslash would need different quoting on each).
_LIKE_ESCAPE = "!"


def _refuse(parameter, message):
    raise Refused(f"Parameter '{parameter}': {message}")


# --- the grammar ------------------------------------------------------------------------

class _Parser:
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.comparisons = 0

    def fail(self, message):
        _refuse("filter", f"{message} at position {self.pos + 1} of {self.text!r}.")

    def skip_space(self):
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self):
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, char):
        if self.peek() != char:
            return False
        self.pos += 1
        return True

    def parse(self):
        tree = self.expression(0)
        if self.peek():
            self.fail(f"unexpected {self.peek()!r}")
        return tree

    def expression(self, depth):
        terms = [self.conjunction(depth)]
        while self.take(","):
            terms.append(self.conjunction(depth))
        return terms[0] if len(terms) == 1 else ("or", terms)

    def conjunction(self, depth):
        terms = [self.term(depth)]
        while self.take(";"):
            terms.append(self.term(depth))
        return terms[0] if len(terms) == 1 else ("and", terms)

    def term(self, depth):
        if self.take("("):
            if depth >= MAX_DEPTH:
                self.fail(f"more than {MAX_DEPTH} nested parentheses")
            inner = self.expression(depth + 1)
            if not self.take(")"):
                self.fail("missing ')'")
            return inner
        return self.comparison()

    def match(self, pattern, what):
        self.skip_space()
        found = pattern.match(self.text, self.pos)
        if not found:
            self.fail(f"expected {what}")
        self.pos = found.end()
        return found.group(0)

    def comparison(self):
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            self.fail(f"more than {MAX_COMPARISONS} comparisons")
        column = self.match(_COLUMN, "a column name")
        start = self.pos
        operator = self.match(_OPERATOR, f"an operator after {column} ({', '.join(OPERATORS[:10])})")
        operator = _ALIASES.get(operator, operator)
        if operator not in OPERATORS:
            self.pos = start
            self.fail(f"unknown operator {operator!r} (known: {', '.join(OPERATORS[:10])})")
        if self.take("("):
            values = [self.value()]
            while self.take(","):
                values.append(self.value())
            if not self.take(")"):
                self.fail("missing ')' after the list of values")
        else:
            values = [self.value()]
        return ("cmp", column, operator, values)

    def value(self):
        quote = self.peek()
        if quote in ("'", '"'):
            out, self.pos = [], self.pos + 1
            while self.pos < len(self.text):
                char = self.text[self.pos]
                self.pos += 1
                if char == "\\" and self.pos < len(self.text):
                    out.append(self.text[self.pos])
                    self.pos += 1
                elif char == quote:
                    return "".join(out)
                else:
                    out.append(char)
            self.fail(f"unterminated {quote} quote")
        return self.match(_UNQUOTED, "a value (quote it when it holds ( ) ; , or spaces)")


def parse(text):
    """The filter's tree: ("and"|"or", [trees]) or ("cmp", column, operator, [values])."""
    if len(text) > MAX_LENGTH:
        _refuse("filter", f"longer than {MAX_LENGTH} characters.")
    return _Parser(text).parse()


# --- compiling to SQL -------------------------------------------------------------------

class _Compiler:
    def __init__(self, module, columns):
        self.module = module
        self.columns = columns   # {name: schema.Column} that may be filtered on
        self.binds = {}

    def bind(self, value):
        name = f"filter_{len(self.binds)}"
        self.binds[name] = value
        return f":{name}"

    def compile(self, tree):
        kind = tree[0]
        if kind in ("and", "or"):
            joined = f" {kind.upper()} ".join(self.compile(t) for t in tree[1])
            return f"({joined})"
        _, name, operator, values = tree
        column = self.columns.get(name)
        if column is None:
            _refuse("filter", f"unknown column '{name}' for {self.module.name} "
                              f"(its columns: {', '.join(self.columns)}).")
        target = f"{self.module.table}.{column.name}"  # our spelling, never the request's
        if operator in _LISTS:
            names = ", ".join(self.bind(self.typed(column, v)) for v in values)
            return f"{target} {_LISTS[operator]} ({names})"
        if len(values) != 1:
            _refuse("filter", f"{name}{operator} takes one value; a list in ( ) is for =in= and =out=.")
        value = values[0]
        if operator == "=isnull=":
            if value.lower() not in _TRUE + _FALSE:
                _refuse("filter", f"{name}=isnull= takes true or false, not {value!r}.")
            return f"{target} IS {'' if value.lower() in _TRUE else 'NOT '}NULL"
        if operator == "=like=":
            pattern = re.sub(r"[!%_]", lambda m: _LIKE_ESCAPE + m.group(0), value).replace("*", "%")
            return f"{target} LIKE {self.bind(pattern)} ESCAPE '{_LIKE_ESCAPE}'"
        return f"{target} {_COMPARE[operator]} {self.bind(self.typed(column, value))}"

    @staticmethod
    def typed(column, value):
        """The value as the column compares it: numbers checked (and bound as numbers, so that
        SQLite compares them as MariaDB does), everything else as text."""
        if column.is_integer:
            if not re.fullmatch(r"[+-]?\d{1,18}", value):
                _refuse("filter", f"{column.name} is a whole number, not {value!r}.")
            return int(value)
        if column.is_numeric:
            if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", value):
                _refuse("filter", f"{column.name} is a number, not {value!r}.")
            return float(value) if "." in value else int(value)
        return value


# --- the parameters of one read ------------------------------------------------------------

@cache  # per module definition (compared by identity), built on first use
def filterable_columns(module):
    """{name: Column} of the module's own table that filter and sort may name."""
    hidden = module.secret_columns  # ciphertext: comparing or ordering it would mean nothing
    return {c.name: c for c in schema.columns(module.table) if c.name not in hidden}


def _tables_in(source):
    """Table names in a FROM clause of a module definition ('a LEFT JOIN b ON ...')."""
    return [source.split()[0]] + re.findall(r"\bJOIN\s+(\w+)", source)


@cache
def output_columns(module):
    """Every column a read of the module may return, in order: what `fields` may name."""
    sources = [module.table, module.list_from or module.table] + [lk.source for lk in module.lookups if lk.source]
    tables = list(dict.fromkeys(t for s in sources for t in _tables_in(s)))
    found = []
    for item in (part.strip() for part in module.select.split(",")):
        if item == "*":
            found += [c.name for t in tables for c in schema.columns(t)]
        elif item.endswith(".*"):
            found += [c.name for c in schema.columns(item[:-2])]
        else:
            found.append(re.split(r"\s+AS\s+", item, flags=re.IGNORECASE)[-1].strip())
    return tuple(dict.fromkeys(found))


class ReadQuery:
    """What filter / filter[col] / sort / order / fields add to one read. Built (and every
    refusal raised) before any SQL runs."""

    def __init__(self, where=(), binds=None, order=(), fields=None, sort=()):
        self.where = list(where)     # SQL conditions to AND to the read's own
        self.binds = binds or {}
        self.order = list(order)     # ORDER BY items, ahead of the module's own order
        self.fields = fields         # column names to keep, or None for whole rows
        self.sort = list(sort)       # the same as (column name, descending): what cursors key on

    @classmethod
    def from_params(cls, params, module):
        values = params.values
        columns = filterable_columns(module)
        compiler = _Compiler(module, columns)
        trees = []
        text = values.get("filter")
        if isinstance(text, str) and text.strip():
            trees.append(parse(text))
        for name, value in values.items():
            found = re.fullmatch(r"filter\[(.*)\]", name)
            if found:
                if found.group(1) not in columns:
                    _refuse(name, f"unknown column '{found.group(1)}' for {module.name}.")
                trees.append(("cmp", found.group(1), "==", [str(value)]))
        where = [compiler.compile(tree) for tree in trees]
        sort = cls._sort(values, module, columns)
        order = [f"{module.table}.{name} {'DESC' if descending else 'ASC'}" for name, descending in sort]
        return cls(where, compiler.binds, order, cls._fields(values, module), sort)

    @staticmethod
    def _sort(values, module, columns):
        """[(column name, descending)] the request's sort= names, in order."""
        sort = values.get("sort")
        if not isinstance(sort, str) or not sort.strip():
            return []
        default = str(values.get("order") or "asc").strip().lower()
        if default not in ("asc", "desc"):
            _refuse("order", f"asc or desc, not {default!r}.")
        order, seen = [], set()
        for item in (part.strip() for part in sort.split(",")):
            direction = default
            if item[:1] in "+-" and item:
                direction, item = ("desc" if item[0] == "-" else "asc"), item[1:]
            name, _, suffix = item.partition(":")
            if suffix:
                direction = suffix.strip().lower()
                if direction not in ("asc", "desc"):
                    _refuse("sort", f"{name}:{suffix} must end in :asc or :desc.")
            if name not in columns:
                _refuse("sort", f"unknown column '{name}' for {module.name} (its columns: {', '.join(columns)}).")
            if name in seen:  # also bounds the ORDER BY list by the table's width
                _refuse("sort", f"names column '{name}' twice.")
            seen.add(name)
            order.append((columns[name].name, direction == "desc"))
        return order

    @staticmethod
    def _fields(values, module):
        fields = values.get("fields")
        if not isinstance(fields, str) or not fields.strip():
            return None
        known = set(output_columns(module))
        chosen = list(dict.fromkeys(f.strip() for f in fields.split(",") if f.strip()))
        unknown = [f for f in chosen if f not in known]
        if unknown:
            _refuse("fields", f"unknown column(s) {', '.join(unknown)} for {module.name}.")
        return chosen

    def order_by(self, default):
        """The ORDER BY list: the caller's sort first, the module's own order as tie-break
        (so pages stay stable)."""
        return ", ".join([*self.order, default]) if self.order else default

    def project(self, rows):
        if self.fields is None:
            return rows
        return [{name: row[name] for name in self.fields if name in row} for row in rows]
