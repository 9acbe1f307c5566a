"""The cattrs converters: renames, dates, nullability, open enums, unknown keys, strictness."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from cattrs.errors import ClassValidationError

from scaledmail_async._converter import (
    MODEL_CLASSES,
    strict_converter,
    structure,
    structure_error_path,
    structure_errors,
    unstructure,
)
from scaledmail_async._types import UNSET
from scaledmail_async.models import (
    AvailabilityStatus,
    CalculatePackageRequest,
    CalculationTier,
    Domain,
    DomainAvailability,
    MailProvider,
    OrderDetails,
    OrderStatus,
    PendingFormList,
    PreWarmDomain,
    PreWarmInboxes,
    PurchasedDomain,
)

ORDER: dict[str, Any] = {
    "id": "recPay0000000000A",
    "created_at": "2026-03-14T09:26:53.000Z",
    "amount": 84,
    "tag": "northwind-01",
    "status": "Active",
    "packages": [
        {
            "type": "Google",
            "id": "recPk00000000000A",
            "created_at": "2026-03-14T09:30:00.123Z",
            "status": "Active",
            "domains": [
                {"id": "recDm00000000000A", "name": "northwindmail.com", "status": ""},
                {"id": "recDm00000000000B", "name": "northwindhq.com", "status": "Active"},
            ],
        }
    ],
}

PRE_WARM: dict[str, Any] = {
    "total": 1,
    "google": [
        {
            "id": "recPw0000000000G1",
            "domain": "brightlanehq.com",
            "warmup_age": 2,
            "emailMailboxCount": 2,
            "pricing": {"oneTimePrice": 20, "monthlyPrice": 9.5},
            "emailMailbox": [{"first_name": "Ana", "last_name": "Reyes", "alias": "ana"}],
        }
    ],
    "outlook": [],
}


def test_camel_case_wire_names_map_to_snake_case_attributes() -> None:
    inbox = structure(PRE_WARM, PreWarmInboxes)
    domain = inbox.google[0]
    assert isinstance(domain, PreWarmDomain)
    assert domain.email_mailbox_count == 2
    assert domain.pricing is not UNSET
    assert (domain.pricing.one_time_price, domain.pricing.monthly_price) == (20, 9.5)
    assert domain.email_mailbox is not UNSET and domain.email_mailbox[0].alias == "ana"
    assert unstructure(inbox) == PRE_WARM
    search = structure(
        [{"domain": "a.com", "status": "available", "renewPrice": 17}], list[DomainAvailability]
    )
    assert search[0].renew_price == 17
    assert unstructure(search) == [{"domain": "a.com", "status": "available", "renewPrice": 17}]


def test_datetimes_are_aware_and_written_back_with_milliseconds_and_z() -> None:
    order = structure(ORDER, OrderDetails)
    assert order.created_at == datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
    assert order.created_at is not UNSET and order.created_at.utcoffset() == timedelta(0)
    assert order.packages is not UNSET
    package_created = order.packages[0].created_at
    assert package_created is not UNSET and package_created.microsecond == 123_000
    assert unstructure(order) == ORDER
    assert unstructure(order)["created_at"] == "2026-03-14T09:26:53.000Z"
    # Values built by users: UTC gets Z, other offsets keep theirs, sub-millisecond is kept.
    order.created_at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert unstructure(order)["created_at"] == "2026-01-02T03:04:05.000006Z"
    order.created_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert unstructure(order)["created_at"] == "2026-01-02T03:04:05.000+02:00"


def test_date_only_strings_become_dates() -> None:
    forms = structure(
        {
            "total": 1,
            "forms": [{"payment_id": "recPay", "uuid": "0b6c", "created_at": "2026-04-02"}],
        },
        PendingFormList,
    )
    assert forms.forms[0].created_at == date(2026, 4, 2)
    assert type(forms.forms[0].created_at) is date
    assert unstructure(forms)["forms"][0]["created_at"] == "2026-04-02"
    with pytest.raises(ClassValidationError):
        structure(
            {"forms": [{"payment_id": "p", "uuid": "u", "created_at": "04/02/2026"}]},
            PendingFormList,
        )


def test_missing_is_not_null() -> None:
    taken = structure(
        {"domain": "google.com", "status": "taken", "price": None}, DomainAvailability
    )
    assert taken.price is None
    assert taken.renew_price is UNSET
    assert unstructure(taken) == {"domain": "google.com", "status": "taken", "price": None}

    purchased = structure({"domain": "a.com", "domain_id": None}, PurchasedDomain)
    assert purchased.domain_id is None
    assert unstructure(purchased) == {"domain": "a.com", "domain_id": None}

    # Request side: UNSET attributes are left out, explicit None is sent as null.
    domain = Domain(id="recDm", domain="a.com", redirect=None)
    assert unstructure(domain) == {"id": "recDm", "domain": "a.com", "redirect": None}
    request = CalculatePackageRequest(volume=100, providers=[MailProvider.GOOGLE])
    assert unstructure(request) == {"volume": 100, "providers": ["google"]}


def test_null_is_rejected_where_the_schema_does_not_allow_it() -> None:
    with pytest.raises(ClassValidationError) as info:
        structure({"domain": "a.com", "status": None}, DomainAvailability)
    assert structure_error_path(info.value) == "$.status"


def test_unknown_enum_values_are_kept_as_strings() -> None:
    order = structure({**ORDER, "status": "Paused"}, OrderDetails)
    assert order.status == "Paused"
    assert type(order.status) is str
    assert structure(ORDER, OrderDetails).status is OrderStatus.ACTIVE
    assert unstructure(order)["status"] == "Paused"

    request = CalculatePackageRequest(
        volume=1,
        providers=["google", MailProvider.OUTLOOK, "carrier-pigeon"],
        tier=CalculationTier.MAX,
    )
    wire = unstructure(request)
    assert wire["providers"] == ["google", "outlook", "carrier-pigeon"]
    assert [type(p) for p in wire["providers"]] == [str, str, str]
    assert wire["tier"] == "max" and type(wire["tier"]) is str
    back = structure(wire, CalculatePackageRequest)
    assert back.providers == [MailProvider.GOOGLE, MailProvider.OUTLOOK, "carrier-pigeon"]


def test_unknown_keys_are_kept_and_written_back() -> None:
    data = {
        **ORDER,
        "refund": {"amount": 5},
        "packages": [
            {
                **ORDER["packages"][0],
                "domains": [{**ORDER["packages"][0]["domains"][0], "dkim": True}],
            }
        ],
    }
    order = structure(data, OrderDetails)
    assert order.additional_properties == {"refund": {"amount": 5}}
    assert order.packages is not UNSET
    assert order.packages[0].additional_properties == {}
    assert order.packages[0].domains is not UNSET
    assert order.packages[0].domains[0].additional_properties == {"dkim": True}
    assert unstructure(order) == data


def test_declared_attributes_win_over_additional_properties() -> None:
    domain = Domain(id="recDm", domain="a.com", additional_properties={"domain": "b.com", "x": 1})
    assert unstructure(domain) == {"id": "recDm", "domain": "a.com", "x": 1}


def test_strict_mode_rejects_unknown_keys_and_enum_values() -> None:
    assert structure(ORDER, OrderDetails, strict=True) == structure(ORDER, OrderDetails)
    with pytest.raises(ClassValidationError) as info:
        structure({**ORDER, "status": "Paused"}, OrderDetails, strict=True)
    assert structure_error_path(info.value) == "$.status"
    assert "Paused" in structure_errors(info.value)[0][1]

    nested = {**PRE_WARM, "google": [{**PRE_WARM["google"][0], "badge": "new"}]}
    with pytest.raises(ClassValidationError) as info:
        strict_converter.structure(nested, PreWarmInboxes)
    assert structure_errors(info.value) == [("$.google[0].badge", "unknown field")]


def test_error_paths_use_wire_names() -> None:
    bad = {**PRE_WARM, "google": [{**PRE_WARM["google"][0], "emailMailboxCount": [2]}]}
    with pytest.raises(ClassValidationError) as info:
        structure(bad, PreWarmInboxes)
    assert structure_error_path(info.value) == "$.google[0].emailMailboxCount"

    missing = {**ORDER, "packages": [{**ORDER["packages"][0], "domains": [{"id": "recDm"}]}]}
    with pytest.raises(ClassValidationError) as info:
        structure(missing, OrderDetails)
    assert structure_errors(info.value) == [
        ("$.packages[0].domains[0].name", "required field missing")
    ]
    assert structure_error_path(ValueError("top level")) == "$"


def test_scalars_are_not_coerced_from_the_wrong_json_type() -> None:
    for bad in ({"domain": "a.com", "domain_masking": "false"}, {"domain": {"x": 1}}):
        with pytest.raises(ClassValidationError):
            structure({"id": "recDm", "domain": "a.com", **bad}, Domain)
    # Lenient: numeric strings for numbers and numbers for strings; strict: exact JSON types.
    lenient = structure({"id": 123, "domain": "a.com", "total_mailboxes": "3"}, Domain)
    assert (lenient.id, lenient.total_mailboxes) == ("123", 3)
    with pytest.raises(ClassValidationError):
        structure({"id": "recDm", "domain": "a.com", "total_mailboxes": "3"}, Domain, strict=True)
    with pytest.raises(ClassValidationError):
        structure({"id": 1, "domain": "a.com"}, Domain, strict=True)


def test_json_integers_stay_integers() -> None:
    order = structure(ORDER, OrderDetails)
    assert order.amount == 84 and type(order.amount) is int
    assert type(unstructure(order)["amount"]) is int


_NO_LAZY_HOOKS = """
import json, sys
import scaledmail_async._converter as c
from scaledmail_async.models import OrderDetails, PreWarmInboxes, DomainAvailability

def refuse(*args, **kwargs):
    raise AssertionError("a hook was generated after import")

c.make_dict_structure_fn = c.make_dict_unstructure_fn = refuse
order, pre_warm = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for strict in (False, True):
    for cls in c.MODEL_CLASSES.values():
        conv = c.strict_converter if strict else c.converter
        conv.get_structure_hook(cls)
        conv.get_unstructure_hook(cls)
    assert c.unstructure(c.structure(order, OrderDetails, strict=strict)) == order
    assert c.unstructure(c.structure(pre_warm, PreWarmInboxes, strict=strict)) == pre_warm
found = c.structure([{"domain": "a.com", "status": "taken"}], list[DomainAvailability])
assert c.unstructure(found) == [{"domain": "a.com", "status": "taken"}]
weird = {**order, "invoices": [{"id": 1, "lines": [1.5, None]}], "x": {"y": [True]}}
assert c.unstructure(c.structure(weird, OrderDetails)) == weird
print("ok", len(c.MODEL_CLASSES))
"""


def test_every_hook_is_built_at_import() -> None:
    """Structuring and unstructuring never generate a hook on the request path.

    Runs in a fresh interpreter so that no earlier test has already built a hook lazily.
    """
    result = subprocess.run(
        [sys.executable, "-c", _NO_LAZY_HOOKS, json.dumps(ORDER), json.dumps(PRE_WARM)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", str(len(MODEL_CLASSES))]
    assert len(MODEL_CLASSES) > 50


def test_enum_members_and_statuses() -> None:
    search = structure(
        [{"domain": "a.com", "status": "available"}, {"domain": "b.com", "status": "reserved"}],
        list[DomainAvailability],
    )
    assert search[0].status is AvailabilityStatus.AVAILABLE
    assert search[1].status == "reserved"
