"""Registration over HTTP against the real broker and store."""

from __future__ import annotations

import json

from contracts.topics import Stage, topic_name
from ggzy.testing.data import entity_registration, new_resident_id, new_uscc
from ggzy.testing.kafka import Record, read_topic
from tests.integration.conftest import Registration


def _events_of(key: str, n: int = 1):  # type: ignore[no-untyped-def]
    def done(records: list[Record]) -> bool:
        return len([r for r in records if r.key == key]) >= n
    return done


async def _registration_events(reg: Registration, key: str, n: int = 1) -> list[Record]:
    topic = topic_name(Stage.REGISTRATION, prefix=reg.svc.settings.topic_prefix)
    records = await read_topic(reg.bootstrap, topic, _events_of(key, n))
    return [r for r in records if r.key == key]


async def test_registering_an_entity_over_http_publishes_entity_registered(
        registration: Registration) -> None:
    uscc = new_uscc()
    status, body = await registration.call("POST", "/v1/entities", registration.operator_token,
                                           entity_registration(uscc, name="深圳示例建设有限公司"))
    assert (status, body) == (201, {"id": uscc, "version": 1})
    [event] = await _registration_events(registration, uscc)
    assert event.headers["ce_type"] == "ggzy.registration.EntityRegistered.v1"
    assert event.headers["ce_source"] == "/ggzy/registration"
    assert event.headers["ce_subject"] == uscc
    assert event.headers["ce_specversion"] == "1.0"
    data = event.json()
    assert data["entity"]["name"] == "深圳示例建设有限公司"
    assert data["entity_version"] == 1
    assert len(data["entity"]["legal_representative_ref"]) == 64


async def test_second_registration_of_a_code_is_refused_with_the_existing_id(
        registration: Registration) -> None:
    """Register once, recognised everywhere (国办发〔2015〕63号)."""
    uscc = new_uscc()
    body = entity_registration(uscc)
    assert (await registration.call("POST", "/v1/entities", registration.operator_token,
                                    body))[0] == 201
    other_region = {**body, "region_code": "110105", "name": "另一地区的同一主体"}
    status, err = await registration.call("POST", "/v1/entities", registration.operator_token,
                                          other_region)
    assert status == 409
    assert err["error"] == {"code": "already_exists", "message": f"{uscc} already exists",
                            "details": {"existing_id": uscc}}


async def test_bad_credit_code_is_refused_with_a_specific_error(
        registration: Registration) -> None:
    uscc = new_uscc()
    wrong_check = uscc[:-1] + ("1" if uscc[-1] != "1" else "2")
    status, err = await registration.call("POST", "/v1/entities", registration.operator_token,
                                          entity_registration(wrong_check))
    assert status == 422
    assert err["error"]["code"] == "uscc_check_char"
    status, err = await registration.call("POST", "/v1/entities", registration.operator_token,
                                          entity_registration(uscc[:17] + "I"))
    assert status == 422
    assert err["error"]["code"] == "uscc_charset"


async def test_refuses_unauthenticated_and_wrong_role_calls(registration: Registration) -> None:
    uscc = new_uscc()
    status, err = await registration.call("POST", "/v1/entities", None, entity_registration(uscc))
    assert (status, err["error"]["code"]) == (401, "token_missing")
    status, err = await registration.call("POST", "/v1/entities", "not-a-jwt",
                                          entity_registration(uscc))
    assert (status, err["error"]["code"]) == (401, "token_invalid")
    # a bidder's user may not register entities
    owner = new_uscc()
    await registration.call("POST", "/v1/entities", registration.operator_token,
                            entity_registration(owner))
    await registration.call("POST", f"/v1/entities/{owner}/users", registration.operator_token,
                            {"username": f"u{owner}", "password": "bidder-pass-123",
                             "roles": ["bidder"]})
    token = await registration.login(f"u{owner}", "bidder-pass-123")
    status, err = await registration.call("POST", "/v1/entities", token, entity_registration(uscc))
    assert (status, err["error"]["code"]) == (403, "role_required")
    # nor change another entity
    status, err = await registration.call("PATCH", f"/v1/entities/{uscc}", token, {"name": "x"})
    assert (status, err["error"]["code"]) == (403, "not_your_entity")
    status, _ = await registration.call("GET", f"/v1/entities/{uscc}")
    assert status == 404


async def test_entity_update_keeps_history_and_publishes_entity_updated(
        registration: Registration) -> None:
    uscc = new_uscc()
    await registration.call("POST", "/v1/entities", registration.operator_token,
                            entity_registration(uscc))
    await registration.call("POST", f"/v1/entities/{uscc}/users", registration.operator_token,
                            {"username": f"a{uscc}", "password": "bidder-pass-123",
                             "roles": ["bidder"]})
    token = await registration.login(f"a{uscc}", "bidder-pass-123")
    status, body = await registration.call("PATCH", f"/v1/entities/{uscc}", token,
                                           {"name": "更名后的公司", "expected_version": 1})
    assert (status, body) == (200, {"id": uscc, "version": 2})
    status, err = await registration.call("PATCH", f"/v1/entities/{uscc}", token,
                                          {"name": "再次更名", "expected_version": 1})
    assert (status, err["error"]["code"]) == (422, "version_mismatch")
    status, hist = await registration.call("GET", f"/v1/entities/{uscc}/history", token)
    assert status == 200
    [entry] = hist["history"]
    assert entry["changed"] == ["name"] and entry["by"] == f"a{uscc}"
    assert entry["before"]["name"] == "示例建设集团有限公司"
    events = await _registration_events(registration, uscc, 2)
    assert [e.headers["ce_type"].split(".")[2] for e in events] == [
        "EntityRegistered", "EntityUpdated"]
    assert events[1].json()["changed"] == ["name"]


async def test_user_roles_are_limited_to_the_entity_kinds(registration: Registration) -> None:
    uscc = new_uscc()
    await registration.call("POST", "/v1/entities", registration.operator_token,
                            entity_registration(uscc, kinds=("bidder",)))
    status, err = await registration.call(
        "POST", f"/v1/entities/{uscc}/users", registration.operator_token,
        {"username": f"t{uscc}", "password": "tenderee-pass-1", "roles": ["tenderee"]})
    assert (status, err["error"]["code"]) == (403, "role_not_allowed")


async def test_expert_with_bad_id_number_or_unknown_specialty_is_refused(
        registration: Registration) -> None:
    good = new_resident_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    body = {"name": "王专家", "resident_id": bad, "specialties": ["A01"], "region_code": "440300"}
    status, err = await registration.call("POST", "/v1/experts", registration.operator_token, body)
    assert (status, err["error"]["code"]) == (422, "id_check_digit")
    body = {**body, "resident_id": good, "specialties": ["Z99"]}
    status, err = await registration.call("POST", "/v1/experts", registration.operator_token, body)
    assert (status, err["error"]["code"]) == (422, "unknown_specialty")
    body = {**body, "specialties": ["A01", "E01"], "employer_uscc": new_uscc()}
    status, created = await registration.call("POST", "/v1/experts", registration.operator_token,
                                              body)
    assert status == 201
    topic = topic_name(Stage.REGISTRATION, prefix=registration.svc.settings.topic_prefix)
    records = await read_topic(registration.bootstrap, topic, _events_of(str(created["id"])))
    [event] = [r for r in records if r.key == created["id"]]
    assert event.headers["ce_type"] == "ggzy.registration.ExpertRegistered.v1"
    assert good not in event.value.decode()  # the id number itself never travels


async def test_openapi_document_describes_the_routes(registration: Registration) -> None:
    status, doc = await registration.call("GET", "/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert isinstance(paths, dict)
    assert "post" in paths["/v1/entities"]
    assert paths["/v1/entities"]["post"]["security"] == [{"bearer": []}]
    status, health = await registration.call("GET", "/readyz")
    assert (status, health["ready"]) == (200, True)


async def test_request_body_is_read_as_json_with_specific_refusals(
        registration: Registration) -> None:
    """The body is parsed and validated in one pass: a body that is not JSON is a 400,
    one with a wrong or unknown field a 422 naming the field; a body sent in another
    charset than UTF-8 is decoded by it."""
    url = registration.svc.url + "/v1/entities"
    auth = {"Authorization": f"Bearer {registration.operator_token}"}

    async def post(data: bytes, content_type: str) -> tuple[int, dict[str, object]]:
        async with registration.http.post(url, data=data, headers={
                **auth, "Content-Type": content_type}) as resp:
            return resp.status, await resp.json()

    status, err = await post(b'{"uscc": ', "application/json")
    assert (status, err["error"]["code"]) == (400, "invalid_json")  # type: ignore[index]
    status, err = await post(b"\xff\xfe", "application/json")
    assert (status, err["error"]["code"]) == (400, "invalid_json")  # type: ignore[index]
    body = entity_registration(new_uscc())
    status, err = await post(json.dumps({**body, "kinds": "bidder"}).encode(),
                             "application/json")
    assert status == 422
    assert err["error"]["code"] == "invalid_request"  # type: ignore[index]
    assert err["error"]["details"]["errors"][0]["field"] == "kinds"  # type: ignore[index]
    status, err = await post(json.dumps({**body, "unknown": 1}).encode(), "application/json")
    assert (status, err["error"]["details"]["errors"][0]["field"]) == (  # type: ignore[index]
        422, "unknown")
    uscc = new_uscc()
    gbk = json.dumps(entity_registration(uscc, name="深圳示例建设有限公司"),
                     ensure_ascii=False).encode("gbk")
    status, created = await post(gbk, "application/json; charset=gbk")
    assert (status, created) == (201, {"id": uscc, "version": 1})
    status, entity = await registration.call("GET", f"/v1/entities/{uscc}")
    assert entity["name"] == "深圳示例建设有限公司"
