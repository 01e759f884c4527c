"""IdentityGraph: stitching as DESIGN.md describes it (pure, no I/O)."""

from __future__ import annotations

from mockserver.state.identity import Actor, Conflict, IdentityGraph, Node

C = "Customer"


def node(name: str, value: str, actor_type: str = C) -> Node:
    return (actor_type, name, value)


def actor(graph: IdentityGraph, name: str, value: str, actor_type: str = C) -> Actor:
    found = graph.actor_of(node(name, value, actor_type))
    assert found is not None, f"no actor for {actor_type}/{name}/{value}"
    return found


def test_anonymous_events_join_the_user_once_an_identify_links_them() -> None:
    graph = IdentityGraph()
    assert graph.observe(1, {C: {"anonymousId": "a1"}}) == []
    assert graph.observe(2, {C: {"anonymousId": "a1"}}) == []
    assert graph.observe(3, {C: {"userId": "u1", "anonymousId": "a1"}}) == []
    assert graph.observe(4, {C: {"userId": "u1"}}) == []

    by_user = actor(graph, "userId", "u1")
    assert by_user.actor_type == C
    assert by_user.user_id == "u1"
    assert by_user.members == [node("anonymousId", "a1"), node("userId", "u1")]
    assert by_user.seqs == [1, 2, 3, 4]  # events 1 and 2 were sent before the link
    assert by_user.identifiers() == {"anonymousId": ["a1"], "userId": ["u1"]}
    assert [link.seq for link in by_user.links] == [3]
    assert set(by_user.links[0].nodes) == {node("anonymousId", "a1"), node("userId", "u1")}
    # Any identifier of the actor returns the whole actor.
    assert actor(graph, "anonymousId", "a1") == by_user
    assert graph.actor_count() == 1
    assert graph.stitched_count() == 1


def test_before_the_link_the_anonymous_id_is_its_own_actor() -> None:
    graph = IdentityGraph()
    graph.observe(1, {C: {"anonymousId": "a1"}})
    graph.observe(2, {C: {"userId": "u1"}})

    anonymous = actor(graph, "anonymousId", "a1")
    assert (anonymous.members, anonymous.seqs, anonymous.user_id) == (
        [node("anonymousId", "a1")], [1], None)
    assert anonymous.links == []
    assert actor(graph, "userId", "u1").seqs == [2]
    assert graph.actor_count() == 2
    assert graph.stitched_count() == 0


def test_two_anonymous_ids_are_joined_through_one_user_id() -> None:
    graph = IdentityGraph()
    graph.observe(1, {C: {"anonymousId": "a1"}})  # phone
    graph.observe(2, {C: {"anonymousId": "a2"}})  # laptop
    graph.observe(3, {C: {"userId": "u1", "anonymousId": "a1"}})
    graph.observe(4, {C: {"userId": "u1", "anonymousId": "a2"}})
    graph.observe(5, {C: {"anonymousId": "a2"}})

    everyone = actor(graph, "anonymousId", "a2")
    assert everyone.members == [
        node("anonymousId", "a1"), node("anonymousId", "a2"), node("userId", "u1")]
    assert everyone.seqs == [1, 2, 3, 4, 5]
    assert everyone.user_id == "u1"
    assert everyone.identifiers() == {"anonymousId": ["a1", "a2"], "userId": ["u1"]}
    assert [link.seq for link in everyone.links] == [3, 4]
    # The second link joined a2 to the actor that already held u1 and a1: it records the
    # identifiers of the event that made it, not every member of the actors it joined.
    assert set(everyone.links[1].nodes) == {node("anonymousId", "a2"), node("userId", "u1")}
    assert actor(graph, "anonymousId", "a1") == everyone
    assert actor(graph, "userId", "u1") == everyone
    assert graph.actor_count() == 1
    assert graph.stitched_count() == 1


def test_an_event_without_a_user_id_links_its_anonymous_ids_to_the_user() -> None:
    graph = IdentityGraph()
    graph.observe(1, {C: {"userId": "u1", "anonymousId": "a1"}})
    assert graph.observe(2, {C: {"anonymousId": "a1", "deviceId": "d1"}}) == []

    joined = actor(graph, "deviceId", "d1")
    assert joined.user_id == "u1"
    assert joined.identifiers() == {
        "anonymousId": ["a1"], "deviceId": ["d1"], "userId": ["u1"]}
    assert joined.seqs == [1, 2]


def test_repeating_a_known_link_adds_the_event_but_no_new_link() -> None:
    graph = IdentityGraph()
    graph.observe(1, {C: {"userId": "u1", "anonymousId": "a1"}})
    graph.observe(2, {C: {"userId": "u1", "anonymousId": "a1"}})

    same = actor(graph, "userId", "u1")
    assert same.seqs == [1, 2]
    assert [link.seq for link in same.links] == [1]
    assert graph.actor_count() == 1


def test_an_anonymous_id_of_one_user_is_not_merged_into_another_user() -> None:
    graph = IdentityGraph()
    assert graph.observe(1, {C: {"userId": "u_A", "anonymousId": "a1"}}) == []
    conflicts = graph.observe(2, {C: {"userId": "u_B", "anonymousId": "a1"}})

    assert conflicts == [Conflict(
        actor_type=C, identifier=("anonymousId", "a1"),
        existing_user_id="u_A", attempted_user_id="u_B", seq=2,
    )]
    first = actor(graph, "anonymousId", "a1")
    assert first.user_id == "u_A"
    assert first.members == [node("anonymousId", "a1"), node("userId", "u_A")]
    assert first.seqs == [1]  # event 2 belongs to u_B, not to u_A's actor
    second = actor(graph, "userId", "u_B")
    assert second.user_id == "u_B"
    assert second.members == [node("userId", "u_B")]
    assert second.seqs == [2]
    assert second.links == []
    assert graph.actor_count() == 2
    assert graph.stitched_count() == 1


def test_an_event_joining_identifiers_of_two_users_records_a_conflict() -> None:
    graph = IdentityGraph()
    graph.observe(1, {C: {"userId": "u_A", "anonymousId": "a1"}})
    graph.observe(2, {C: {"userId": "u_B", "email": "b@example.com"}})
    # No userId on the event: it goes with the first identifier's user, the other is refused.
    conflicts = graph.observe(3, {C: {"anonymousId": "a1", "email": "b@example.com"}})

    assert conflicts == [Conflict(C, ("email", "b@example.com"), "u_B", "u_A", 3)]
    assert actor(graph, "userId", "u_A").identifiers() == {
        "anonymousId": ["a1"], "userId": ["u_A"]}
    assert actor(graph, "userId", "u_A").seqs == [1, 3]
    assert actor(graph, "userId", "u_B").identifiers() == {
        "email": ["b@example.com"], "userId": ["u_B"]}
    assert actor(graph, "userId", "u_B").seqs == [2]
    assert graph.actor_count() == 2


def test_actor_types_are_separate_graphs() -> None:
    graph = IdentityGraph()
    graph.observe(1, {C: {"userId": "u1", "anonymousId": "a1"}, "Account": {"userId": "u1"}})
    # The same identifier values under another actor type link nothing in Customer.
    assert graph.observe(2, {"Account": {"userId": "u2", "anonymousId": "a1"}}) == []

    customer = actor(graph, "userId", "u1")
    assert customer.identifiers() == {"anonymousId": ["a1"], "userId": ["u1"]}
    assert customer.seqs == [1]
    account = actor(graph, "userId", "u1", "Account")
    assert account.actor_type == "Account"
    assert account.members == [node("userId", "u1", "Account")]
    assert account.seqs == [1]
    other = actor(graph, "anonymousId", "a1", "Account")
    assert other.user_id == "u2"
    assert other.seqs == [2]
    assert graph.actor_of(node("userId", "u2")) is None
    assert node("userId", "u2", "Account") in graph
    assert node("userId", "u2") not in graph
    assert graph.actor_count() == 3
    assert graph.stitched_count() == 2


def test_links_carry_the_seq_of_the_linking_event() -> None:
    graph = IdentityGraph()
    graph.observe(10, {C: {"anonymousId": "a1"}})
    graph.observe(17, {C: {"anonymousId": "a2"}})
    graph.observe(23, {C: {"userId": "u1", "anonymousId": "a2"}})
    graph.observe(42, {C: {"userId": "u1", "anonymousId": "a1"}})

    links = actor(graph, "userId", "u1").links
    assert [link.seq for link in links] == [23, 42]
    assert set(links[0].nodes) == {node("userId", "u1"), node("anonymousId", "a2")}
    assert set(links[1].nodes) == {node("userId", "u1"), node("anonymousId", "a1")}


def test_identifiers_are_sorted_by_name_then_value() -> None:
    graph = IdentityGraph()
    graph.observe(1, {C: {"userId": "u1", "anonymousId": "a_z", "email": "x@example.com"}})
    graph.observe(2, {C: {"userId": "u1", "anonymousId": "a_b"}})
    graph.observe(3, {C: {"anonymousId": "a_m", "userId": "u1"}})

    identifiers = actor(graph, "email", "x@example.com").identifiers()
    assert identifiers == {
        "anonymousId": ["a_b", "a_m", "a_z"], "email": ["x@example.com"], "userId": ["u1"]}
    assert list(identifiers) == ["anonymousId", "email", "userId"]


def test_unknown_identifier_has_no_actor() -> None:
    graph = IdentityGraph()
    graph.observe(1, {C: {"userId": "u1"}})
    assert graph.actor_of(node("userId", "nobody")) is None
    assert graph.actor_of(node("anonymousId", "u1")) is None


def test_counts_and_actors_listing() -> None:
    graph = IdentityGraph()
    assert (graph.actor_count(), graph.stitched_count(), graph.page(0, 10)) == (0, 0, [])
    graph.observe(1, {C: {"userId": "u1", "anonymousId": "a1"}})
    graph.observe(2, {C: {"anonymousId": "a2"}})
    graph.observe(3, {C: {"userId": "u3"}})
    graph.observe(4, {C: {"userId": "u4", "anonymousId": "a4", "email": "e4"}})
    graph.observe(5, {C: {"userId": "u5", "anonymousId": "a1"}})  # conflict: stays apart

    assert graph.actor_count() == 5  # {u1,a1} {a2} {u3} {u4,a4,e4} {u5}
    assert graph.stitched_count() == 2
    listed = [(a.event_count, a.user_id, sorted(a.members)) for a in graph.page(0, 10)]
    assert listed == [
        (1, "u1", [node("anonymousId", "a1"), node("userId", "u1")]),
        (1, None, [node("anonymousId", "a2")]),
        (1, "u3", [node("userId", "u3")]),
        (1, "u4", [node("anonymousId", "a4"), node("email", "e4"), node("userId", "u4")]),
        (1, "u5", [node("userId", "u5")]),
    ]
    assert [a.user_id for a in graph.page(3, 10)] == ["u4", "u5"]
    assert [a.user_id for a in graph.page(1, 2)] == [None, "u3"]


def test_many_anonymous_ids_join_one_user_with_every_event() -> None:
    graph = IdentityGraph()
    for seq in range(1, 501):
        graph.observe(seq, {C: {"anonymousId": f"a{seq:03d}"}})
    for seq in range(501, 1001):
        graph.observe(seq, {C: {"userId": "u1", "anonymousId": f"a{seq - 500:03d}"}})

    whole = actor(graph, "anonymousId", "a250")
    assert whole.user_id == "u1"
    assert whole.seqs == list(range(1, 1001))
    assert whole.identifiers() == {
        "anonymousId": [f"a{n:03d}" for n in range(1, 501)], "userId": ["u1"]}
    assert [link.seq for link in whole.links] == list(range(501, 1001))
    assert graph.actor_count() == 1
