"""National codes: GB 32100-2015, GB 11714, GB 11643-1999, GB/T 2260 and the codes and
amounts of 公共资源交易平台系统数据规范 (2016)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts.codes import (
    PROVINCES,
    USCC,
    USCC_CATEGORIES,
    USCC_CHARSET,
    CodeError,
    ProjectCode,
    RegionCode,
    ResidentId,
    SectionCode,
    TenderProjectCode,
    check_uscc,
    fen_to_yuan_str,
    is_valid_uscc,
    org_code_check_char,
    resident_id_check_char,
    resident_id_with_check,
    section_code,
    tender_project_code,
    uscc_check_char,
    uscc_with_check,
    validate_project_code,
    validate_region_code,
    validate_resident_id,
    validate_section_belongs,
    validate_section_code,
    validate_tender_project_code,
    validate_uscc,
    wanyuan_to_fen,
    yuan_to_fen,
)

KNOWN_USCC = ["914403001922038216", "91110108551385082Q"]
CENTRAL_USCC = "12100000400000624D"  # a public institution registered centrally (100000)
GB11643_EXAMPLE = "11010519491231002X"  # the standard's own example
PROJECT = "E4403000000012345"

authority_and_category = st.sampled_from(
    [a + c for a, cats in USCC_CATEGORIES.items() for c in cats])
regions = st.builds(lambda p, rest: p + rest, st.sampled_from(sorted(PROVINCES)),
                    st.text("0123456789", min_size=4, max_size=4))
org_bodies = st.text(USCC_CHARSET, min_size=8, max_size=8)
generated_usccs = st.builds(lambda ac, region, body: uscc_with_check(ac + region, body),
                            authority_and_category, regions, org_bodies)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date.today())
generated_ids = st.builds(
    lambda region, born, seq: resident_id_with_check(f"{region}{born:%Y%m%d}{seq:03d}"),
    regions, birth_dates, st.integers(0, 999))
project_codes = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=17, max_size=17)


def code_of(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(CodeError) as err:
        call(*args)
    return err.value.code


# GB 32100-2015 unified social credit code ----------------------------------------------
@pytest.mark.parametrize("code", [*KNOWN_USCC, CENTRAL_USCC])
def test_known_credit_codes_are_valid(code: str) -> None:
    """GB 32100-2015: published codes pass, including the central region 100000."""
    assert validate_uscc(code) == code


def test_credit_code_is_stripped_and_upper_cased() -> None:
    """GB 32100-2015 letters are capitals; input in lower case is normalised."""
    assert validate_uscc(" 91110108551385082q ") == "91110108551385082Q"


@pytest.mark.parametrize("valid", KNOWN_USCC)
def test_every_single_character_substitution_of_a_known_code_is_rejected(valid: str) -> None:
    """GB 32100-2015: the mod-31 check catches any one wrong character (exhaustive)."""
    for pos in range(18):
        for char in USCC_CHARSET.replace(valid[pos], ""):
            with pytest.raises(CodeError):
                validate_uscc(valid[:pos] + char + valid[pos + 1:])


@given(generated_usccs, st.integers(0, 17), st.sampled_from(USCC_CHARSET + "IOSVZ-a*"))
def test_any_single_character_substitution_is_rejected(code: str, pos: int, char: str) -> None:
    """GB 32100-2015: a valid code with one character changed never validates."""
    assume(char.upper() != code[pos])
    with pytest.raises(CodeError):
        validate_uscc(code[:pos] + char + code[pos + 1:])


def full_check_passes(code: str) -> bool:
    try:
        check_uscc(code)
    except CodeError:
        return False
    return True


@given(st.one_of(generated_usccs, st.just(CENTRAL_USCC), st.sampled_from(KNOWN_USCC)),
       st.integers(0, 17), st.sampled_from(USCC_CHARSET + "IOSVZ-a*"))
def test_the_quick_credit_code_check_agrees_with_the_full_one(code: str, pos: int,
                                                              char: str) -> None:
    """GB 32100-2015: validate_uscc's quick pass accepts exactly what every rule accepts."""
    assert is_valid_uscc(code) and full_check_passes(code)
    changed = code[:pos] + char + code[pos + 1:]
    assert is_valid_uscc(changed) == full_check_passes(changed)


@given(st.text(USCC_CHARSET, min_size=16, max_size=19))
def test_the_quick_check_agrees_on_any_string_of_code_characters(text: str) -> None:
    # the first two positions drawn from real authorities and categories half the time
    for code in (text, "91" + text[2:]):
        assert is_valid_uscc(code) == full_check_passes(code)


@given(generated_usccs)
def test_generated_credit_codes_always_validate(code: str) -> None:
    """GB 32100-2015 and GB 11714: uscc_with_check computes both check characters."""
    assert validate_uscc(code) == code
    assert code[16] == org_code_check_char(code[8:16])
    assert code[17] == uscc_check_char(code[:17])


@pytest.mark.parametrize("first2", ["31", "32", "71", "81", "A1", "N2", "Y1", "93", "53"])
def test_authorities_of_the_standard_table_are_accepted(first2: str) -> None:
    """GB 32100-2015 appendix A: e.g. 31 law firm, 32 notary, N2 village collective."""
    assert validate_uscc(uscc_with_check(first2 + "110000", "E0001695"))[:2] == first2


@pytest.mark.parametrize(("bad", "code", "says"), [
    ("91440300192203821", "uscc_length", "not 17"),
    ("91440300192203821I", "uscc_charset", "'I' at position 18"),
    ("B14403001922038216", "uscc_authority", "position 1 'B'"),
    ("944403001922038216", "uscc_category", "position 2 '4'"),
    ("Y24403001922038216", "uscc_category", "allowed: 1"),
    ("910000001922038216", "uscc_region", "00, which is not a province"),
    ("914403001922038226", "uscc_org_code_check", "should be '1', found '2'"),
    ("914403001922038217", "uscc_check_char", "should be '6', found '7'"),
])
def test_each_credit_code_error_names_the_failed_rule(bad: str, code: str, says: str) -> None:
    """GB 32100-2015 / GB 11714: a specific code and a message saying what is wrong."""
    with pytest.raises(CodeError) as err:
        validate_uscc(bad)
    assert err.value.code == code
    assert says in str(err.value)


@pytest.mark.parametrize(("body", "check"), [
    ("00000001", "9"), ("00000005", "1"), ("00000006", "X"), ("00000000", "0"),
    ("A0000000", "3"), ("55138508", "2"),
])
def test_organization_code_check_maps_10_to_x_and_11_to_0(body: str, check: str) -> None:
    """GB 11714: weights 3,7,9,10,5,8,4,2; C9 = 11 - sum mod 11; A=10; 10 -> X, 11 -> 0."""
    assert org_code_check_char(body) == check


def test_helper_refuses_inputs_that_cannot_make_a_valid_code() -> None:
    """GB 32100-2015: uscc_with_check raises rather than return an invalid code."""
    assert code_of(uscc_with_check, "9144030", "19220382") == "uscc_length"
    assert code_of(uscc_with_check, "91440300", "1922038I") == "uscc_charset"
    assert code_of(uscc_with_check, "99440300", "19220382") == "uscc_category"


# GB 11643-1999 resident identity number ------------------------------------------------
def test_the_standards_example_identity_number_is_valid() -> None:
    """GB 11643-1999: 11010519491231002X; a lower-case x is normalised."""
    assert validate_resident_id(GB11643_EXAMPLE.lower()) == GB11643_EXAMPLE


@given(generated_ids)
def test_generated_identity_numbers_always_validate(rid: str) -> None:
    """GB 11643-1999: resident_id_with_check appends the ISO 7064 MOD 11-2 check."""
    assert validate_resident_id(rid) == rid


@given(generated_ids, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_character_change_of_an_identity_number_is_rejected(
        rid: str, pos: int, char: str) -> None:
    """GB 11643-1999: weights 2^(18-i) mod 11 are all non-zero, so one change is caught."""
    assume(rid[pos] != char)
    with pytest.raises(CodeError):
        validate_resident_id(rid[:pos] + char + rid[pos + 1:])


def with_check(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


@pytest.mark.parametrize(("bad", "code", "says"), [
    ("1101051949123100", "id_length", "not 16"),
    ("11010519491231002Y", "id_charset", "'Y' at position 18"),
    ("1101051949123100X2", "id_charset", "'X' at position 17"),
    (with_check("00010519491231002"), "id_region", "00, which is not a province"),
    (with_check("11010519490230002"), "id_birth_date", "19490230 is not a date"),
    (with_check("11010518991231002"), "id_birth_date", "1899-12-31 is not between"),
    ("110105194912310020", "id_check_digit", "should be 'X', found '0'"),
])
def test_each_identity_number_error_names_the_failed_rule(bad: str, code: str, says: str) -> None:
    """GB 11643-1999 (region GB/T 2260, birth date YYYYMMDD, check character)."""
    with pytest.raises(CodeError) as err:
        validate_resident_id(bad)
    assert err.value.code == code
    assert says in str(err.value)


def test_birth_date_after_today_is_rejected() -> None:
    """GB 11643-1999: a birth date cannot lie in the future."""
    tomorrow = date(2030, 1, 2)
    rid = with_check(f"110105{tomorrow:%Y%m%d}001")
    assert validate_resident_id(rid, today=tomorrow) == rid
    with pytest.raises(CodeError, match="not between") as err:
        validate_resident_id(rid, today=tomorrow - timedelta(days=1))
    assert err.value.code == "id_birth_date"


def test_identity_helper_needs_17_digits() -> None:
    """GB 11643-1999: the body is 17 digits."""
    assert code_of(resident_id_with_check, "1101051949123100") == "id_charset"
    assert code_of(resident_id_with_check, "1101051949123100A") == "id_charset"
    assert code_of(resident_id_with_check, "１１０１０５１９４９１２３１００２") == "id_charset"


# GB/T 2260 region code ------------------------------------------------------------------
@pytest.mark.parametrize("region", ["110105", "440300", "650000", "710000", "810000", "820000"])
def test_region_codes_of_known_provinces_are_valid(region: str) -> None:
    """GB/T 2260: 6 digits whose first two are a province-level code."""
    assert validate_region_code(region) == region


@pytest.mark.parametrize("bad", ["44030", "4403000", "44O300", "000000", "190000", "160000",
                                 "720000", "830000", "４４０３００"])
def test_malformed_or_unknown_region_codes_are_rejected(bad: str) -> None:
    """GB/T 2260: province codes are 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81, 82."""
    assert code_of(validate_region_code, bad) == "region_code"


# 公共资源交易平台系统数据规范 codes ---------------------------------------------------------
def test_tender_project_and_section_codes_extend_the_project_code() -> None:
    """数据规范: tender project = project + 3 digits; section = tender project + 3 digits."""
    tender = tender_project_code(PROJECT, 1)
    section = section_code(tender, 12)
    assert (tender, section) == (PROJECT + "001", PROJECT + "001012")
    assert validate_tender_project_code(tender) == tender
    assert validate_section_code(section) == section
    assert validate_section_belongs(section, PROJECT) == section


@given(project_codes, st.integers(1, 999), st.integers(1, 999))
def test_derived_section_codes_always_belong_to_their_project(
        project: str, tender_no: int, section_no: int) -> None:
    """数据规范: a section code derived from a project code is a section of that project."""
    section = section_code(tender_project_code(project, tender_no), section_no)
    assert validate_section_belongs(section, project) == section


@pytest.mark.parametrize(("call", "args", "code"), [
    (validate_project_code, ("E440300000001234",), "project_code"),
    (validate_project_code, ("e4403000000012345",), "project_code"),
    (tender_project_code, (PROJECT, 0), "tender_project_number"),
    (tender_project_code, (PROJECT, 1000), "tender_project_number"),
    (tender_project_code, ("E44-3000000012345", 1), "project_code"),
    (validate_tender_project_code, (PROJECT + "0A1",), "tender_project_code"),
    (section_code, (PROJECT + "001", 0), "section_number"),
    (section_code, (PROJECT, 1), "tender_project_code"),
    (validate_section_code, (PROJECT + "00101",), "section_code"),
    (validate_section_belongs, ("E4403000000099999001001", PROJECT), "section_project"),
])
def test_each_project_code_error_names_the_failed_rule(
        call: object, args: tuple[object, ...], code: str) -> None:
    """数据规范: project code 17 characters; sequence numbers 001-999."""
    assert code_of(call, *args) == code


# 数据规范 amounts ------------------------------------------------------------------------
@given(st.decimals(min_value=0, max_value=Decimal("99999999999999.99"), places=2))
def test_yuan_amounts_with_two_decimals_round_trip_through_fen(amount: Decimal) -> None:
    """数据规范: amounts up to 14 integer digits convert to fen exactly and back."""
    fen = yuan_to_fen(str(amount))
    assert fen == yuan_to_fen(amount) == int(amount * 100)
    assert fen_to_yuan_str(fen) == f"{amount:.2f}"
    assert yuan_to_fen(fen_to_yuan_str(fen)) == fen


@given(st.integers(0, 99_999_999_999_999_99))
def test_fen_round_trip_through_the_yuan_string(fen: int) -> None:
    """数据规范: fen -> "元.角分" -> fen is the identity."""
    assert yuan_to_fen(fen_to_yuan_str(fen)) == fen


def test_wanyuan_amounts_convert_exactly_to_fen() -> None:
    """数据规范: unit 万元 with 6 decimals is exactly 1 fen per last digit."""
    assert wanyuan_to_fen("1.5") == 1_500_000
    assert wanyuan_to_fen("0.000001") == 1
    assert wanyuan_to_fen(Decimal("12.345678")) == 12_345_678
    assert wanyuan_to_fen(3) == 3_000_000
    assert yuan_to_fen("-0.00") == yuan_to_fen(" 0 ") == 0


def test_fen_is_formatted_with_two_decimals() -> None:
    assert [fen_to_yuan_str(f) for f in (123450, 5, 0, -5)] == ["1234.50", "0.05", "0.00", "-0.05"]


@pytest.mark.parametrize(("call", "amount", "code"), [
    (yuan_to_fen, "1.005", "amount_precision"),
    (yuan_to_fen, Decimal("0.001"), "amount_precision"),
    (yuan_to_fen, "0.1234567", "amount_decimals"),
    (yuan_to_fen, "100000000000000", "amount_too_large"),
    (wanyuan_to_fen, "99999999999999", "amount_too_large"),  # beyond a 64-bit fen count
    (yuan_to_fen, "-1", "amount_negative"),
    (yuan_to_fen, "1e3", "amount_format"),
    (yuan_to_fen, "1,000", "amount_format"),
    (yuan_to_fen, "", "amount_format"),
    (yuan_to_fen, "１２", "amount_format"),  # full-width digits
    (yuan_to_fen, Decimal("NaN"), "amount_format"),
    (yuan_to_fen, 1.5, "amount_type"),
    (yuan_to_fen, True, "amount_type"),
])
def test_amounts_that_do_not_convert_exactly_are_refused(
        call: object, amount: object, code: str) -> None:
    """数据规范: at most 14 integer and 6 decimal digits; whole fen only; no floats."""
    assert code_of(call, amount) == code


# pydantic types ----------------------------------------------------------------------------
class Record(BaseModel):
    uscc: USCC
    rid: ResidentId
    region: RegionCode
    project: ProjectCode
    tender: TenderProjectCode
    section: SectionCode


GOOD = {"uscc": "91110108551385082q", "rid": GB11643_EXAMPLE, "region": "440300",
        "project": PROJECT, "tender": PROJECT + "001", "section": PROJECT + "001001"}


def test_model_with_code_types_accepts_and_normalises_valid_codes() -> None:
    """GB 32100-2015: the model stores the canonical upper-case code."""
    assert Record.model_validate(GOOD).uscc == "91110108551385082Q"


@pytest.mark.parametrize(("field", "bad", "code"), [
    ("uscc", "91110108551385082A", "uscc_check_char"),
    ("uscc", "91110108551385O82Q", "uscc_charset"),
    ("rid", "110105194912310020", "id_check_digit"),
    ("region", "990000", "region_code"),
    ("project", "short", "project_code"),
    ("tender", PROJECT, "tender_project_code"),
    ("section", PROJECT + "001", "section_code"),
])
def test_model_reports_the_specific_code_error(field: str, bad: str, code: str) -> None:
    """The pydantic error type is the CodeError code, its message the explanation."""
    with pytest.raises(ValidationError) as err:
        Record.model_validate({**GOOD, field: bad})
    (error,) = err.value.errors()
    assert (error["loc"], error["type"]) == ((field,), code)
    assert error["msg"] == error["ctx"]["reason"]


def test_json_schema_tells_partners_the_format() -> None:
    """The exported JSON Schema carries pattern, length and an example."""
    props = Record.model_json_schema()["properties"]
    assert props["uscc"]["pattern"] == "^[0-9A-HJ-NPQRTUWXY]{18}$"
    assert (props["uscc"]["minLength"], props["uscc"]["maxLength"]) == (18, 18)
    assert props["uscc"]["examples"] == ["91110108551385082Q"]
    assert props["rid"]["pattern"] == r"^\d{17}[\dX]$"
    assert props["section"]["pattern"] == r"^[0-9A-Z]{17}\d{6}$"
    assert all(p["description"] for p in props.values())
