"""Sessions through the API, on SQLite and PostgreSQL: create, list (newest first, by keyset,
searched by title, archived apart), rename, archive, delete, share; and who sees what."""

from __future__ import annotations

from tests.apps.scoping.conftest import Person, S, answer_stage, new_session


async def test_a_session_is_created_listed_renamed_archived_and_deleted(people: Person) -> None:
    ada = await people("acme")
    first = await new_session(ada, "Invoice automation")
    second = await new_session(ada, "Warehouse  robots")
    third = await new_session(ada, "Invoice archive")

    created = (await ada.get(f"{S}/{first}")).json()
    assert {k: created[k] for k in ("title", "owner_name", "archived", "access", "progress")} == {
        "title": "Invoice automation",
        "owner_name": "admin@acme.example",
        "archived": False,
        "access": "owner",
        "progress": 0,
    }
    assert [s["status"] for s in created["stages"]] == ["waiting"] + ["locked"] * 4

    listed = (await ada.get(S)).json()
    assert [s["id"] for s in listed["items"]] == [third, second, first]
    assert listed["items"][1]["title"] == "Warehouse robots"  # whitespace folded

    page = (await ada.get(S, params={"limit": 2})).json()
    assert [s["id"] for s in page["items"]] == [third, second]
    rest = (await ada.get(S, params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert ([s["id"] for s in rest["items"]], rest["next_cursor"]) == ([first], None)

    found = (await ada.get(S, params={"q": "INVOICE"})).json()
    assert [s["title"] for s in found["items"]] == ["Invoice archive", "Invoice automation"]
    assert (await ada.get(S, params={"q": "100%"})).json()["items"] == []

    renamed = await ada.patch(f"{S}/{first}", json={"title": "Supplier invoices"})
    assert renamed.json()["title"] == "Supplier invoices"
    archived = await ada.patch(f"{S}/{second}", json={"archived": True})
    assert archived.json()["archived"] is True
    assert [s["id"] for s in (await ada.get(S)).json()["items"]] == [third, first]
    only_archived = (await ada.get(S, params={"archived": True})).json()["items"]
    assert [s["id"] for s in only_archived] == [second]

    # A field the caller may not set is refused, not ignored.
    forged = await ada.post(S, json={"title": "Mine", "owner_id": "someone-else"})
    assert (forged.status_code, forged.json()["error"]["code"]) == (422, "request_invalid")
    assert any(
        "owner_id" in issue and "Extra inputs are not permitted" in issue
        for issue in forged.json()["error"]["details"]["issues"]
    )

    assert (await ada.delete(f"{S}/{third}")).status_code == 204
    assert (await ada.get(f"{S}/{third}")).status_code == 404
    assert [s["id"] for s in (await ada.get(S)).json()["items"]] == [first]


async def test_another_user_of_the_tenant_gets_404_and_an_empty_list(people: Person) -> None:
    admin = await people("acme")
    ada = await people(admin=admin, email="ada@acme.example")
    bob = await people(admin=admin, email="bob@acme.example")
    session = await new_session(ada)

    assert (await bob.get(S)).json() == {"items": [], "next_cursor": None}
    for method, path in [
        ("GET", f"{S}/{session}"),
        ("GET", f"{S}/{session}/stages/1"),
        ("GET", f"{S}/{session}/log"),
        ("GET", f"{S}/{session}/charter"),
        ("PATCH", f"{S}/{session}"),
        ("DELETE", f"{S}/{session}"),
        ("POST", f"{S}/{session}/stages/1/open"),
    ]:
        response = await bob.request(method, path, json={"title": "mine"})
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"

    # The tenant's admin sees it (to read), and another tenant sees nothing.
    assert [s["id"] for s in (await admin.get(S)).json()["items"]] == [session]
    assert (await admin.get(f"{S}/{session}")).json()["access"] == "read"
    rival = await people("rival")
    assert (await rival.get(f"{S}/{session}")).status_code == 404
    assert (await rival.get(S)).json()["items"] == []


async def test_a_shared_viewer_reads_but_does_not_answer(people: Person) -> None:
    admin = await people("acme")
    ada = await people(admin=admin, email="ada@acme.example")
    bob = await people(admin=admin, email="bob@acme.example")
    cy = await people(admin=admin, email="cy@acme.example")
    session = await new_session(ada)
    stage = await answer_stage(ada, session, 1, [])
    question = stage["pending_question_id"]

    shared = await ada.post(f"{S}/{session}/shares", json={"email": "bob@acme.example"})
    assert shared.status_code == 201, shared.text
    assert {k: shared.json()[k] for k in ("email", "access")} == {
        "email": "bob@acme.example",
        "access": "read",
    }
    editor = await ada.post(
        f"{S}/{session}/shares", json={"email": "CY@acme.example", "access": "edit"}
    )
    assert editor.status_code == 201

    assert [s["id"] for s in (await bob.get(S)).json()["items"]] == [session]
    seen = (await bob.get(f"{S}/{session}")).json()
    assert (seen["access"], [s["email"] for s in seen["shares"]]) == (
        "read",
        ["bob@acme.example", "cy@acme.example"],
    )
    refused = await bob.post(
        f"{S}/{session}/stages/1/answer", json={"question_id": question, "answer": "mine"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        f"the session '{session}' is shared with bob@acme.example to read, not to edit"
    )
    assert (await bob.patch(f"{S}/{session}", json={"title": "x"})).status_code == 403

    # An editor answers; the answer is recorded as theirs.
    answered = await cy.post(
        f"{S}/{session}/stages/1/answer", json={"question_id": question, "answer": "medium"}
    )
    assert answered.status_code == 200, answered.text
    log = (await ada.get(f"{S}/{session}/log")).json()["items"]
    assert [(i["answer"], i["by"]) for i in log] == [("medium", "cy@acme.example")]
    # Only the owner shares or deletes.
    assert (await cy.delete(f"{S}/{session}")).status_code == 403

    user_id = shared.json()["user_id"]
    assert (await ada.delete(f"{S}/{session}/shares/{user_id}")).status_code == 204
    assert (await bob.get(f"{S}/{session}")).status_code == 404
    assert (await bob.get(S)).json()["items"] == []
