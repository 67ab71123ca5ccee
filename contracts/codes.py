"""National codes and amounts, as pure validators and pydantic types. No I/O.

- Unified social credit code (统一社会信用代码), GB 32100-2015, with the embedded
  organization code (组织机构代码) of GB 11714-1997;
- resident identity number (公民身份号码), GB 11643-1999;
- administrative division code (行政区划代码), GB/T 2260;
- project, tender-project and section codes and amounts of the national data
  standard 公共资源交易平台系统数据规范 (2016).

Every failure is a CodeError with a machine-readable ``code`` and a message that
says exactly what is wrong. The pydantic types report the same code as the
error ``type``; their JSON Schema documents the canonical form (validation itself
is done by the validators, so callers get the specific error, not a bare
pattern mismatch, and lower-case input is normalised).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from operator import mul
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 3^(i-1) mod 31, i = 1..17
# Registration authority (登记管理部门, position 1) -> entity categories (机构类别, position 2).
# GB 32100-2015 appendix A as first published lists 1 机构编制, 5 民政, 9 工商 and Y 其他;
# codes issued since also use 2 外交, 3 司法行政 (31 律师事务所, 32 公证处), 4 文化, 6 旅游,
# 7 宗教, 8 工会, A 中央军委改革和编制办公室 and N 农业 (N2 村级集体经济组织), so they are
# accepted: a law firm or a village collective may be a supplier. Configurable data.
USCC_CATEGORIES = {"1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239",
                   "6": "129", "7": "129", "8": "19", "9": "123", "A": "19", "N": "1239",
                   "Y": "1"}
USCC_NATIONAL_REGION = "100000"  # registration by a central (national) authority
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714
ID_WEIGHTS = tuple(pow(2, 18 - i, 11) for i in range(1, 18))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, ...
ID_CHECK = "10X98765432"  # GB 11643-1999: check character of (sum mod 11)
PROVINCES = frozenset(str(p) for p in (*range(11, 16), *range(21, 24), *range(31, 38),
                                       *range(41, 47), *range(50, 55), *range(61, 66),
                                       71, 81, 82))
FEN_PER_YUAN = 100
FEN_PER_WANYUAN = 100 * 10_000
MAX_INTEGER_DIGITS = 14  # 数据规范: amounts have up to 14 integer digits
MAX_DECIMAL_DIGITS = 6  # ... and up to 6 decimal digits
MAX_FEN = 2**63 - 1  # stored as a 64-bit integer
_PROJECT_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
# The fast paths below accept only what the detailed checks accept; anything else goes
# through those checks, which say exactly what is wrong.
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_EARLIEST_BIRTH = date(1900, 1, 1)


class CodeError(ValueError):
    """A code or amount that does not conform; ``code`` says which rule failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _province_problem(region: str) -> str | None:
    if not _SIX_DIGITS.fullmatch(region):
        return f"{region!r} is not 6 digits"
    if region[:2] not in PROVINCES:
        return f"{region} starts with {region[:2]}, which is not a province-level code"
    return None


# unified social credit code (GB 32100-2015) ------------------------------------------
def org_code_check_char(body: str) -> str:
    """GB 11714 check character of an 8-character organization code body ([0-9A-Z])."""
    if not re.fullmatch(r"[0-9A-Z]{8}", body):
        raise CodeError("uscc_charset", f"organization code body {body!r} is not 8 of [0-9A-Z]")
    total = sum(int(c, 36) * w for c, w in zip(body, ORG_WEIGHTS, strict=True))  # A=10..Z=35
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character of the first 17 characters of a credit code."""
    if len(first17) != 17 or any(c not in USCC_CHARSET for c in first17):
        raise CodeError("uscc_charset", f"{first17!r} is not 17 credit-code characters")
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


_USCC_INDEX = {c: i for i, c in enumerate(USCC_CHARSET)}
_ORG_VALUE = {c: int(c, 36) for c in USCC_CHARSET}  # GB 11714 reads A=10..Z=35
_ORG_CHECK = {n: "X" if n == 10 else "0" if n == 11 else str(n) for n in range(1, 12)}


def validate_uscc(value: str) -> str:
    """A valid unified social credit code (GB 32100-2015), stripped and upper-cased."""
    code = value.strip().upper()
    if is_valid_uscc(code):
        return code
    check_uscc(code)  # raises the specific error
    return code


def is_valid_uscc(code: str) -> bool:
    """Whether ``code`` (already stripped and upper-cased) passes every check of
    ``check_uscc``: the same rules in one quick pass, for the common valid case."""
    if len(code) != 18:
        return False
    index = _USCC_INDEX
    try:
        values = [index[c] for c in code]
    except KeyError:
        return False
    categories = USCC_CATEGORIES.get(code[0])
    if categories is None or code[1] not in categories:
        return False
    region = code[2:8]
    if region != USCC_NATIONAL_REGION and (region[:2] not in PROVINCES
                                           or max(values[2:8]) > 9):
        return False
    total = sum(map(mul, map(_ORG_VALUE.__getitem__, code[8:16]), ORG_WEIGHTS))
    if code[16] != _ORG_CHECK[11 - total % 11]:
        return False
    total = sum(map(mul, values, USCC_WEIGHTS))  # the first 17 (as many as weights)
    return code[17] == USCC_CHARSET[(31 - total % 31) % 31]


def check_uscc(code: str) -> None:
    """Raise the CodeError saying which rule of GB 32100-2015 ``code`` breaks first."""
    if len(code) != 18:
        raise CodeError("uscc_length", f"a credit code has 18 characters, not {len(code)}")
    for pos, char in enumerate(code, 1):
        if char not in USCC_CHARSET:
            raise CodeError("uscc_charset", f"character {char!r} at position {pos} is not "
                            "allowed (digits and capitals except I, O, S, V, Z)")
    categories = USCC_CATEGORIES.get(code[0])
    if categories is None:
        raise CodeError("uscc_authority", f"position 1 {code[0]!r} is not a registration "
                        f"authority (登记管理部门) code: one of {', '.join(USCC_CATEGORIES)}")
    if code[1] not in categories:
        raise CodeError("uscc_category", f"position 2 {code[1]!r} is not an entity category "
                        f"of registration authority {code[0]!r} (allowed: "
                        f"{', '.join(categories)})")
    region = code[2:8]
    problem = None if region == USCC_NATIONAL_REGION else _province_problem(region)
    if problem:
        raise CodeError("uscc_region", f"positions 3-8 must be a GB/T 2260 region code: {problem}")
    expected_org = org_code_check_char(code[8:16])
    if code[16] != expected_org:
        raise CodeError("uscc_org_code_check", f"position 17: the GB 11714 check of the embedded "
                        f"organization code {code[8:16]}-{code[16]} should be {expected_org!r}, "
                        f"found {code[16]!r}")
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise CodeError("uscc_check_char", f"position 18: check character should be "
                        f"{expected!r}, found {code[17]!r}")


def uscc_with_check(first8: str, org_body8: str) -> str:
    """A valid credit code from positions 1-8 and the 8-character organization code body.

    Both check characters are computed; raises CodeError if the result is not valid
    (e.g. an unknown authority or a letter I, O, S, V, Z in the body).
    """
    if len(first8) != 8:
        raise CodeError("uscc_length", f"positions 1-8 are 8 characters, not {len(first8)}")
    first17 = first8.upper() + org_body8.upper() + org_code_check_char(org_body8.upper())
    return validate_uscc(first17 + uscc_check_char(first17))


# resident identity number (GB 11643-1999) --------------------------------------------
def resident_id_check_char(first17: str) -> str:
    """GB 11643-1999 check character of the first 17 digits of an identity number."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise CodeError("id_charset", f"{first17!r} is not 17 digits")
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def validate_resident_id(value: str, *, today: date | None = None) -> str:
    """A valid 18-character resident identity number (GB 11643-1999), upper-cased.

    The birth date (positions 7-14) must be a real date from 1900-01-01 to ``today``.
    """
    rid = value.strip().upper()
    if _resident_id_valid(rid, today):
        return rid
    if len(rid) != 18:
        raise CodeError("id_length", f"an identity number has 18 characters, not {len(rid)}")
    for pos, char in enumerate(rid, 1):
        if not (char.isascii() and char.isdigit()) and not (pos == 18 and char == "X"):
            raise CodeError("id_charset", f"character {char!r} at position {pos} is not allowed "
                            "(17 digits, then a digit or X)")
    problem = _province_problem(rid[:6])
    if problem:
        raise CodeError("id_region", f"positions 1-6 must be a GB/T 2260 region code: {problem}")
    try:
        born = date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
    except ValueError as exc:
        raise CodeError("id_birth_date", f"positions 7-14: birth date {rid[6:14]} is not a "
                        "date") from exc
    latest = today or date.today()
    if not date(1900, 1, 1) <= born <= latest:
        raise CodeError("id_birth_date", f"positions 7-14: birth date {born} is not between "
                        f"1900-01-01 and {latest}")
    expected = resident_id_check_char(rid[:17])
    if rid[17] != expected:
        raise CodeError("id_check_digit", f"position 18: check character should be "
                        f"{expected!r}, found {rid[17]!r}")
    return rid


def _resident_id_valid(rid: str, today: date | None) -> bool:
    """True when ``rid`` passes every check of ``validate_resident_id`` (False: look closer)."""
    if not _ID_SHAPE.fullmatch(rid) or rid[:2] not in PROVINCES:
        return False
    try:
        born = date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
    except ValueError:
        return False
    if not _EARLIEST_BIRTH <= born <= (today or date.today()):
        return False
    return rid[17] == ID_CHECK[sum(map(mul, map(int, rid[:17]), ID_WEIGHTS)) % 11]


def resident_id_with_check(first17: str) -> str:
    """A valid identity number from its first 17 digits (raises CodeError otherwise)."""
    return validate_resident_id(first17 + resident_id_check_char(first17))


# region and project codes ------------------------------------------------------------
def validate_region_code(value: str) -> str:
    """A 6-digit administrative division code (GB/T 2260) of a known province."""
    problem = _province_problem(value)
    if problem:
        raise CodeError("region_code", f"not a GB/T 2260 region code: {problem}")
    return value


_SHAPES = {digits: re.compile(f"[0-9A-Z]{{17}}[0-9]{{{digits}}}") for digits in (0, 3, 6)}


def _shape(value: str, code: str, what: str, digits: int) -> str:
    """17 characters of [0-9A-Z] (the project code) followed by ``digits`` digits."""
    if _SHAPES[digits].fullmatch(value):  # the common case, at once; else say what is wrong
        return value
    if len(value) != 17 + digits:
        raise CodeError(code, f"a {what} has {17 + digits} characters, not {len(value)}")
    for pos, char in enumerate(value, 1):
        if char not in (_PROJECT_CHARS if pos <= 17 else "0123456789"):
            raise CodeError(code, f"{what}: character {char!r} at position {pos} is not "
                            + ("0-9 or A-Z" if pos <= 17 else "a digit"))
    return value


def validate_project_code(value: str) -> str:
    """A project code: 17 characters of [0-9A-Z] (数据规范: unique and immutable)."""
    return _shape(value, "project_code", "project code", 0)


def validate_tender_project_code(value: str) -> str:
    """A 20-character tender project code: project code + 3 digits."""
    return _shape(value, "tender_project_code", "tender project code", 3)


def validate_section_code(value: str) -> str:
    """A 23-character section (标段/包) code: tender project code + 3 digits."""
    return _shape(value, "section_code", "section code", 6)


def tender_project_code(project_code: str, n: int) -> str:
    """The n-th (1-999) tender project of a project: project code + 3 digits."""
    if not 1 <= n <= 999:
        raise CodeError("tender_project_number", f"tender project number {n} is not 1-999")
    return validate_project_code(project_code) + f"{n:03d}"


def section_code(tender_code: str, n: int) -> str:
    """The n-th (1-999) section of a tender project: tender project code + 3 digits."""
    if not 1 <= n <= 999:
        raise CodeError("section_number", f"section number {n} is not 1-999")
    return validate_tender_project_code(tender_code) + f"{n:03d}"


def validate_section_belongs(section: str, project_code: str) -> str:
    """The section code, if it is a section of the project (its first 17 characters)."""
    validate_section_code(section)
    if section[:17] != validate_project_code(project_code):
        raise CodeError("section_project", f"section {section} is of project {section[:17]}, "
                        f"not {project_code}")
    return section


# amounts (数据规范: up to 14 integer and 6 decimal digits, unit 元 or 万元) -------------
def _to_fen(value: str | Decimal | int, fen_per_unit: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise CodeError("amount_type", f"an amount is a decimal string, Decimal or int, not "
                        f"{type(value).__name__}")
    text = value.strip() if isinstance(value, str) else f"{Decimal(value):f}"
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise CodeError("amount_format", f"{value!r} is not a plain decimal amount "
                        "(digits, optionally a point and decimals)")
    sign, whole, decimals = match.group(1), match.group(2).lstrip("0"), match.group(3) or ""
    if sign and Decimal(text) != 0:
        raise CodeError("amount_negative", f"{text} {unit} is negative")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise CodeError("amount_too_large", f"{text} {unit} has {len(whole)} integer digits "
                        f"(at most {MAX_INTEGER_DIGITS})")
    if len(decimals) > MAX_DECIMAL_DIGITS:
        raise CodeError("amount_decimals", f"{text} {unit} has {len(decimals)} decimal digits "
                        f"(at most {MAX_DECIMAL_DIGITS})")
    fen = abs(Decimal(text)) * fen_per_unit
    if fen != fen.to_integral_value():
        raise CodeError("amount_precision", f"{text} {unit} is not a whole number of fen (分): "
                        f"{fen} fen")
    if fen > MAX_FEN:
        raise CodeError("amount_too_large", f"{text} {unit} is {int(fen)} fen, more than {MAX_FEN}")
    return int(fen)


def yuan_to_fen(value: str | Decimal | int) -> int:
    """An amount in yuan (元) as integer fen, exactly (refuses e.g. "1.005")."""
    return _to_fen(value, FEN_PER_YUAN, "元")


def wanyuan_to_fen(value: str | Decimal | int) -> int:
    """An amount in ten-thousand yuan (万元) as integer fen, exactly."""
    return _to_fen(value, FEN_PER_WANYUAN, "万元")


def fen_to_yuan_str(fen: int) -> str:
    """Integer fen as a yuan string with two decimals ("1234.50")."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


# pydantic types ----------------------------------------------------------------------
def _checked(validate: Callable[[str], str]) -> AfterValidator:
    """Run a validator; a CodeError becomes a pydantic error whose ``type`` is its code.

    Valid codes are remembered (a pure check: the same code recurs in every event
    about its entity, 10,000 times in one large opening record)."""
    remembered = lru_cache(maxsize=1 << 16)(validate)

    def run(value: str) -> str:
        try:
            return remembered(value)
        except CodeError as exc:
            raise PydanticCustomError(exc.code, "{reason}", {"reason": str(exc)}) from exc

    return AfterValidator(run)


def _schema(pattern: str, description: str, examples: list[str] | None = None,
            **extra: Any) -> Any:
    """JSON Schema for partners (not enforced by pydantic: the validator decides)."""
    return Field(description=description, examples=examples,
                 json_schema_extra={"pattern": pattern, **extra})


USCC = Annotated[str, _schema(r"^[0-9A-HJ-NPQRTUWXY]{18}$",
                              "Unified social credit code (GB 32100-2015).",
                              ["91110108551385082Q"], minLength=18, maxLength=18),
                 _checked(validate_uscc)]
ResidentId = Annotated[str, _schema(r"^\d{17}[\dX]$", "Resident identity number (GB 11643-1999).",
                                    ["11010519491231002X"]), _checked(validate_resident_id)]
RegionCode = Annotated[str, _schema(r"^\d{6}$", "Administrative division code (GB/T 2260).",
                                    ["440300"]), _checked(validate_region_code)]
ProjectCode = Annotated[str, _schema(r"^[0-9A-Z]{17}$", "Project code."),
                        _checked(validate_project_code)]
TenderProjectCode = Annotated[str, _schema(r"^[0-9A-Z]{17}\d{3}$",
                                           "Tender project code (project + 3 digits)."),
                              _checked(validate_tender_project_code)]
SectionCode = Annotated[str, _schema(r"^[0-9A-Z]{17}\d{6}$",
                                     "Section code (tender project + 3 digits)."),
                        _checked(validate_section_code)]
