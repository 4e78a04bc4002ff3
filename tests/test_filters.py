"""filter / filter[col] / sort / order / fields on module reads (lib/core/filters.py), on whichever
backend the run uses: every operator, the scope never widened, hostile input refused by name."""
import pytest
from helpers import NO_RESOURCE, fetch, insert, make_key, refused, succeeded

from itflow_api.lib.core import filters
from itflow_api.lib.modules import assets, ticket_replies

ASSETS = [  # (client, name, make, status, purchase date); client "a" or "b"
    ("a", "srv-web-01", "Dell", "Deployed", "2023-01-15"),
    ("a", "SRV-db-02", "HP", "Deployed", "2023-06-01"),
    ("a", "laptop 50%_off", "Lenovo", "Ready", None),
    ("a", "printer", "HP", "Broken", "2024-02-29"),
    ("b", "srv-bravo", "Dell", "Deployed", "2023-03-03"),
]


@pytest.fixture
def world(db, two_clients, all_key):
    a, b, key_a = two_clients
    ids = {}
    for owner, name, make, status, bought in ASSETS:
        ids[name] = insert(db, "assets", asset_name=name, asset_make=make, asset_status=status,
                           asset_purchase_date=bought, asset_client_id=a if owner == "a" else b)
    return {"a": a, "b": b, "key_a": key_a, "all": all_key, "ids": ids}


def names(result):
    return [row["asset_name"] for row in succeeded(result)["data"]]


def read(api, key, **params):
    return api.get("assets/read", key=key, **params)


@pytest.mark.parametrize("expression, expected", [
    ("asset_make==Dell", ["srv-web-01"]),
    ("asset_make!=HP", ["srv-web-01", "laptop 50%_off"]),
    ("asset_make=ne=HP", ["srv-web-01", "laptop 50%_off"]),
    ("asset_purchase_date<2023-06-01", ["srv-web-01"]),
    ("asset_purchase_date<=2023-06-01", ["srv-web-01", "SRV-db-02"]),
    ("asset_purchase_date>2023-06-01", ["printer"]),
    ("asset_purchase_date>=2023-06-01", ["SRV-db-02", "printer"]),
    ("asset_purchase_date=ge=2023-06-01", ["SRV-db-02", "printer"]),
    ("asset_name=like=srv*", ["srv-web-01", "SRV-db-02"]),           # LIKE ignores case on both backends
    ("asset_name=like=*-0?", []),                                     # '?' is no wildcard
    ("asset_name=like='*50%_*'", ["laptop 50%_off"]),                 # % and _ are literal
    ("asset_name=like=*5_%*", []),
    ("asset_name==SRV-WEB-01", ["srv-web-01"]),                       # == ignores case too
    ("asset_make=in=(Dell,Lenovo)", ["srv-web-01", "laptop 50%_off"]),
    ("asset_make=out=(Dell,Lenovo)", ["SRV-db-02", "printer"]),
    ("asset_purchase_date=isnull=true", ["laptop 50%_off"]),
    ("asset_purchase_date=isnull=false;asset_make==HP", ["SRV-db-02", "printer"]),
    ("asset_make==HP;asset_status==Broken", ["printer"]),
    ("asset_make==Dell,asset_status==Broken", ["srv-web-01", "printer"]),
    # ';' binds tighter than ','; parentheses change that.
    ("asset_make==Lenovo,asset_make==HP;asset_status==Deployed", ["SRV-db-02", "laptop 50%_off"]),
    ("(asset_make==Lenovo,asset_make==HP);asset_status==Deployed", ["SRV-db-02"]),
    (" asset_make == HP ; asset_name == \"printer\" ", ["printer"]),
    ("asset_name=='laptop 50%_off'", ["laptop 50%_off"]),
])
def test_every_operator(api, world, expression, expected):
    result = read(api, world["key_a"], filter=expression)
    if expected:
        assert sorted(names(result)) == sorted(expected), expression
    else:
        assert result == (200, NO_RESOURCE)


def test_numbers_compare_as_numbers(api, world):
    ids = sorted(world["ids"][n] for n in ("srv-web-01", "SRV-db-02", "laptop 50%_off", "printer"))
    second = ids[1]
    body = succeeded(read(api, world["key_a"], filter=f"asset_id>{second}"))
    assert [int(r["asset_id"]) for r in body["data"]] == ids[2:]
    body = succeeded(read(api, world["key_a"], filter=f"asset_id=in=({ids[0]},{ids[3]})"))
    assert [int(r["asset_id"]) for r in body["data"]] == [ids[0], ids[3]]


def test_shorthand_filter_brackets_and_lookups_combine(api, world):
    assert names(read(api, world["key_a"], **{"filter[asset_make]": "HP"})) == ["SRV-db-02", "printer"]
    assert names(read(api, world["key_a"], **{"filter[asset_make]": "HP", "filter[asset_status]": "Broken"})) \
        == ["printer"]
    # A look-up (ITFlow's asset_name=) and a filter together: both apply.
    assert names(read(api, world["key_a"], asset_name="printer", filter="asset_make==HP")) == ["printer"]
    assert read(api, world["key_a"], asset_name="printer", filter="asset_make==Dell") == (200, NO_RESOURCE)


def test_sort_forms(api, world):
    key = world["key_a"]
    by_make_then_id = ["srv-web-01", "SRV-db-02", "printer", "laptop 50%_off"]
    assert names(read(api, key, sort="asset_make,-asset_id")) == ["srv-web-01", "printer", "SRV-db-02",
                                                                  "laptop 50%_off"]
    assert names(read(api, key, sort="asset_make")) == by_make_then_id     # ties keep the id order
    assert names(read(api, key, sort="-asset_make")) == ["laptop 50%_off", "SRV-db-02", "printer", "srv-web-01"]
    assert names(read(api, key, sort="asset_make:desc")) == names(read(api, key, sort="-asset_make"))
    assert names(read(api, key, sort="asset_make", order="desc")) == names(read(api, key, sort="-asset_make"))
    assert names(read(api, key, sort="asset_make:asc", order="desc")) == by_make_then_id
    # Paging follows the sort.
    assert names(read(api, key, sort="-asset_make", limit=2, offset=1)) == ["SRV-db-02", "printer"]


def test_fields_choose_columns(api, world):
    body = succeeded(read(api, world["key_a"], fields="asset_name,asset_id", filter="asset_make==Dell"))
    assert body["data"] == [{"asset_name": "srv-web-01", "asset_id": str(world["ids"]["srv-web-01"])}]
    # A joined column of the list read may be chosen too.
    body = succeeded(read(api, world["key_a"], fields="asset_id,interface_mac", sort="asset_id", limit=1))
    assert set(body["data"][0]) == {"asset_id", "interface_mac"}


def test_scope_never_widened(api, world):
    key_a, b = world["key_a"], world["b"]
    # A key for client A asking for client B's assets, every way round: nothing.
    assert read(api, key_a, filter=f"asset_client_id=={b}") == (200, NO_RESOURCE)
    assert read(api, key_a, **{"filter[asset_client_id]": str(b)}) == (200, NO_RESOURCE)
    assert read(api, key_a, filter="asset_name==srv-bravo") == (200, NO_RESOURCE)
    # An OR cannot escape the scope condition: it is bracketed and ANDed to it.
    rows = succeeded(read(api, key_a, filter=f"asset_client_id=={b},asset_id>0"))["data"]
    assert {r["asset_client_id"] for r in rows} == {str(world["a"])}
    # The all-clients key sees both, and client_id still narrows it.
    assert sorted(names(read(api, world["all"], filter="asset_make==Dell"))) == ["srv-bravo", "srv-web-01"]
    assert names(read(api, world["all"], filter="asset_make==Dell", client_id=b)) == ["srv-bravo"]


@pytest.mark.parametrize("params, culprit", [
    ({"filter": "asset_nope==1"}, "unknown column 'asset_nope'"),
    ({"filter": "interface_mac==aa"}, "unknown column 'interface_mac'"),     # joined, not the module's own
    ({"filter": "asset_name=regex=.*"}, "unknown operator '=regex='"),
    ({"filter": "asset_name~=x"}, "expected an operator"),
    ({"filter": "asset_id==abc"}, "asset_id is a whole number"),
    ({"filter": "asset_name==x;"}, "expected a column name"),
    ({"filter": "(asset_name==x"}, "missing ')'"),
    ({"filter": "asset_name==\"x"}, "unterminated"),
    ({"filter": "asset_name==(a,b)"}, "takes one value"),
    ({"filter": "asset_name=isnull=maybe"}, "takes true or false"),
    ({"filter": "(" * 12 + "asset_id==1" + ")" * 12}, "nested parentheses"),
    ({"filter": ";".join(["asset_id==1"] * 51)}, "more than 50 comparisons"),
    ({"filter": "asset_name==x' OR '1'='1"}, "unexpected"),
    ({"filter": "asset_name==x;1=1"}, "expected a column name"),
    ({"filter": "asset_name==x) OR (1==1"}, "unexpected ')'"),
    ({"filter": "asset_id==1 UNION SELECT api_key_secret FROM api_keys"}, "unexpected 'U'"),
    ({"filter[asset_name) OR (1=1]": "x"}, "unknown column 'asset_name) OR (1=1'"),
    ({"sort": "asset_name;DROP TABLE assets"}, "unknown column 'asset_name;DROP TABLE assets'"),
    ({"sort": "(SELECT 1)"}, "unknown column '(SELECT 1)'"),
    ({"sort": "asset_name:sideways"}, "must end in :asc or :desc"),
    ({"order": "random()", "sort": "asset_name"}, "asc or desc"),
    ({"fields": "asset_name,api_key_secret"}, "unknown column(s) api_key_secret"),
    ({"fields": "*"}, "unknown column(s) *"),
])
def test_bad_input_refused_by_name(api, world, db, params, culprit):
    body = refused(read(api, world["key_a"], **params))
    assert culprit in body["message"], body["message"]
    assert list(params)[0] in body["message"]   # names the parameter
    assert len(fetch(db, "assets")) == len(ASSETS)


def test_quoted_injection_is_only_a_value(api, world, db):
    assert read(api, world["key_a"], filter="asset_name==\"x' OR '1'='1\"") == (200, NO_RESOURCE)
    assert read(api, world["key_a"], filter="asset_name=like=\"%' OR 1=1 -- \"") == (200, NO_RESOURCE)
    assert len(fetch(db, "assets")) == len(ASSETS)


def test_unknown_column_never_reaches_sql(world, monkeypatch):
    class Params:
        values = {"filter": "asset_nope==1"}
    with pytest.raises(filters.Refused):
        filters.ReadQuery.from_params(Params, assets.MODULE)
    # The SQL written uses our own spelling of the column, qualified by the module's table.
    Params.values = {"filter": "asset_name=like=a*", "sort": "-asset_id"}
    query = filters.ReadQuery.from_params(Params, assets.MODULE)
    assert query.where == ["assets.asset_name LIKE :filter_0 ESCAPE '!'"]
    assert query.binds == {"filter_0": "a%"}
    assert query.order == ["assets.asset_id DESC"]


def test_itflow_parameters_unchanged_without_filters(api, world):
    # No filter parameters: ITFlow's read, in id order, every column.
    body = succeeded(read(api, world["key_a"]))
    assert [r["asset_name"] for r in body["data"]] == [n for o, n, *_ in ASSETS if o == "a"]
    assert "interface_mac" in body["data"][0]
    # Empty values (what form-building scripts send) are ignored.
    assert succeeded(read(api, world["key_a"], filter="", sort="", fields=""))["data"] == body["data"]


def test_joined_module_filters_on_its_own_table(api, world, db):
    ticket = insert(db, "tickets", ticket_subject="Printer", ticket_number=1, ticket_client_id=world["a"])
    for kind in ("Internal", "Public", "Public"):
        insert(db, "ticket_replies", ticket_reply=kind, ticket_reply_type=kind, ticket_reply_by=0,
               ticket_reply_ticket_id=ticket)
    body = succeeded(api.get("ticket_replies/read", key=world["key_a"], filter="ticket_reply_type==Public",
                             sort="-ticket_reply_id", fields="ticket_reply_id,ticket_subject"))
    assert len(body["data"]) == 2 and body["data"][0]["ticket_subject"] == "Printer"
    assert int(body["data"][0]["ticket_reply_id"]) > int(body["data"][1]["ticket_reply_id"])
    assert "ticket_subject" in refused(api.get("ticket_replies/read", key=world["key_a"],
                                               filter="ticket_subject==Printer"))["message"]


def test_encrypted_credential_columns_not_filterable():
    assert "credential_password" not in filters.filterable_columns(
        __import__("itflow_api.lib.modules.credentials", fromlist=["MODULE"]).MODULE)
    assert "ticket_reply_by_name" in filters.output_columns(ticket_replies.MODULE)


def test_other_clients_rows_stay_hidden_from_a_scoped_key(api, world, keys):
    key_b = make_key(keys, client_id=world["b"])
    assert names(read(api, key_b, filter="asset_make=in=(Dell,HP,Lenovo)")) == ["srv-bravo"]
