"""National codes and amounts, as validators and pydantic types. No I/O.

- Unified social credit code (统一社会信用代码), GB 32100-2015, with the embedded
  organization code (组织机构代码) of GB 11714-1997;
- resident identity number (公民身份号码), GB 11643-1999;
- administrative division code (行政区划代码), GB/T 2260;
- project, tender-project and section codes and amounts of the national data
  standard 公共资源交易平台系统数据规范 (2016).

Every failure is a CodeError with a machine-readable ``code`` and a message
that says exactly what is wrong.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, Field

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
# GB 32100-2015 table 1: registration authority -> entity categories it issues.
USCC_CATEGORIES = {"1": "1239", "5": "1239", "9": "123", "Y": "1"}
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
ID_CHECK = "10X98765432"
PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
             "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
             "63", "64", "65", "71", "81", "82"}
FEN_PER_YUAN = 100
MAX_INTEGER_DIGITS = 14


class CodeError(ValueError):
    """A code or amount that does not conform; ``code`` says which rule failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# unified social credit code ---------------------------------------------------------
def _org_check(body: str) -> str:
    """GB 11714 check character of an 8-character organization code body."""
    total = sum(_org_value(c) * w for c, w in zip(body, ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def _org_value(char: str) -> int:
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def _uscc_check(first17: str) -> str:
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """A valid unified social credit code (GB 32100-2015), upper-cased."""
    code = value.strip().upper()
    if len(code) != 18:
        raise CodeError("uscc_length", f"a credit code has 18 characters, not {len(code)}")
    for pos, char in enumerate(code, 1):
        if char not in USCC_CHARSET:
            raise CodeError("uscc_charset", f"character {char!r} at position {pos} is not "
                            "allowed (digits and capitals except I, O, S, V, Z)")
    allowed = USCC_CATEGORIES.get(code[0])
    if allowed is not None and code[1] not in allowed:
        raise CodeError("uscc_category", f"entity category {code[1]!r} is not issued by "
                        f"registration authority {code[0]!r} (allowed: {', '.join(allowed)})")
    if not re.fullmatch(r"\d{6}", code[2:8]):
        raise CodeError("uscc_region", f"positions 3-8 must be a 6-digit region code, "
                        f"not {code[2:8]!r}")
    org = code[8:17]
    if not re.fullmatch(r"[0-9A-Z]{8}[0-9X]", org) or _org_check(org[:8]) != org[8]:
        raise CodeError("uscc_org_code_check", f"embedded organization code {org} fails its "
                        f"GB 11714 check (expected check {_org_check(org[:8])!r}, "
                        f"found {org[8]!r})")
    expected = _uscc_check(code[:17])
    if code[17] != expected:
        raise CodeError("uscc_check_char", f"check character should be {expected!r}, "
                        f"found {code[17]!r}")
    return code


def uscc_with_check(first8: str, org_body8: str) -> str:
    """A valid credit code from its first 8 characters and an 8-character org body."""
    first17 = first8.upper() + org_body8.upper() + _org_check(org_body8.upper())
    return first17 + _uscc_check(first17)


# resident identity number -------------------------------------------------------------
def _id_check(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def validate_resident_id(value: str) -> str:
    """A valid 18-character resident identity number (GB 11643-1999), upper-cased."""
    rid = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", rid):
        raise CodeError("id_length", "an identity number is 17 digits and a check character")
    if rid[:2] not in PROVINCES:
        raise CodeError("id_region", f"{rid[:6]} is not a region code (GB/T 2260)")
    try:
        born = date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
    except ValueError as exc:
        raise CodeError("id_birth_date", f"birth date {rid[6:14]} is not a date") from exc
    if not date(1900, 1, 1) <= born <= date.today():
        raise CodeError("id_birth_date", f"birth date {born} is out of range")
    expected = _id_check(rid[:17])
    if rid[17] != expected:
        raise CodeError("id_check_digit", f"check character should be {expected!r}, "
                        f"found {rid[17]!r}")
    return rid


def resident_id_with_check(first17: str) -> str:
    """A valid identity number from its first 17 digits."""
    return first17 + _id_check(first17)


# region, project codes ----------------------------------------------------------------
def validate_region_code(value: str) -> str:
    """A 6-digit administrative division code (GB/T 2260) of a known province."""
    if not re.fullmatch(r"\d{6}", value) or value[:2] not in PROVINCES:
        raise CodeError("region_code", f"{value!r} is not a 6-digit region code (GB/T 2260)")
    return value


def validate_project_code(value: str) -> str:
    """A 17-character project code (数据规范: unique and immutable)."""
    if not re.fullmatch(r"[0-9A-Z]{17}", value):
        raise CodeError("project_code", f"{value!r} is not a 17-character project code")
    return value


def tender_project_code(project_code: str, n: int) -> str:
    """The n-th tender project of a project: project code + 3 digits."""
    if not 1 <= n <= 999:
        raise CodeError("tender_project_code", f"tender project number {n} is not 1-999")
    return validate_project_code(project_code) + f"{n:03d}"


def validate_tender_project_code(value: str) -> str:
    """A 20-character tender project code."""
    if not re.fullmatch(r"[0-9A-Z]{17}\d{3}", value):
        raise CodeError("tender_project_code", f"{value!r} is not a tender project code")
    return value


def section_code(tender_code: str, n: int) -> str:
    """The n-th section (标段/包) of a tender project: tender project code + 3 digits."""
    if not 1 <= n <= 999:
        raise CodeError("section_code", f"section number {n} is not 1-999")
    return validate_tender_project_code(tender_code) + f"{n:03d}"


def validate_section_code(value: str) -> str:
    """A 23-character section code."""
    if not re.fullmatch(r"[0-9A-Z]{17}\d{6}", value):
        raise CodeError("section_code", f"{value!r} is not a section code")
    return value


def validate_section_belongs(section: str, project_code: str) -> None:
    """The section code must extend the project's code."""
    if not validate_section_code(section).startswith(project_code):
        raise CodeError("section_project", f"section {section} is not of project {project_code}")


# amounts ------------------------------------------------------------------------------
def _decimal(value: str | Decimal | int) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise CodeError("amount_format", f"{value!r} is not a decimal amount") from exc
    if not amount.is_finite() or amount < 0:
        raise CodeError("amount_format", f"{value!r} is not a non-negative amount")
    return amount


def _to_fen(amount: Decimal, fen_per_unit: int, original: object) -> int:
    if len(str(int(amount))) > MAX_INTEGER_DIGITS:
        raise CodeError("amount_too_large", f"{original} has more than 14 integer digits")
    fen = amount * fen_per_unit
    if fen != fen.to_integral_value():
        raise CodeError("amount_precision", f"{original} is not a whole number of fen (分)")
    return int(fen)


def yuan_to_fen(value: str | Decimal | int) -> int:
    """An amount in yuan (元) as integer fen, exactly."""
    return _to_fen(_decimal(value), FEN_PER_YUAN, value)


def wanyuan_to_fen(value: str | Decimal | int) -> int:
    """An amount in ten-thousand yuan (万元) as integer fen, exactly."""
    return _to_fen(_decimal(value), FEN_PER_YUAN * 10_000, value)


def fen_to_yuan_str(fen: int) -> str:
    """Integer fen as a yuan string with two decimals ("1234.50")."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


USCC = Annotated[str, Field(min_length=18, max_length=18, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$",
                            examples=["91110108551385082Q"],
                            description="Unified social credit code (GB 32100-2015)."),
                 AfterValidator(validate_uscc)]
ResidentId = Annotated[str, Field(pattern=r"^\d{17}[\dX]$", examples=["11010519491231002X"],
                                  description="Resident identity number (GB 11643-1999)."),
                       AfterValidator(validate_resident_id)]
RegionCode = Annotated[str, Field(pattern=r"^\d{6}$", examples=["440300"],
                                  description="Administrative division code (GB/T 2260)."),
                       AfterValidator(validate_region_code)]
ProjectCode = Annotated[str, Field(pattern=r"^[0-9A-Z]{17}$", description="Project code."),
                        AfterValidator(validate_project_code)]
TenderProjectCode = Annotated[str, Field(pattern=r"^[0-9A-Z]{17}\d{3}$",
                                         description="Tender project code (project + 3 digits)."),
                              AfterValidator(validate_tender_project_code)]
SectionCode = Annotated[str, Field(pattern=r"^[0-9A-Z]{17}\d{6}$",
                                   description="Section code (tender project + 3 digits)."),
                        AfterValidator(validate_section_code)]
