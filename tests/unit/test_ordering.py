from connector.ordering import StitchedOrdering

ANON = {"Customer": {"anonymousId": "a1"}}
USER = {"Customer": {"userId": "u1"}}
BOTH = {"Customer": {"userId": "u1", "anonymousId": "a1"}}


def test_streaming_keys_join_at_the_linking_event() -> None:
    ordering = StitchedOrdering()
    assert ordering.keys(ANON) == ("Customer/anonymousId:a1", ())
    assert ordering.keys(USER) == ("Customer/userId:u1", ())
    # The identify waits for both chains; afterwards both identifiers share its key.
    assert ordering.keys(BOTH) == ("Customer/userId:u1", ("Customer/anonymousId:a1",))
    assert ordering.keys(ANON) == ("Customer/userId:u1", ())
    assert ordering.keys(USER) == ("Customer/userId:u1", ())


def test_whole_input_keys_put_earlier_events_on_the_actor_key() -> None:
    ordering = StitchedOrdering()
    for actors in (ANON, USER, {"Customer": {"anonymousId": "a2"}}, BOTH,
                   {"Customer": {"userId": "u1", "anonymousId": "a2"}}):
        ordering.link(actors)
    keys = {ordering.key(a) for a in (ANON, USER, BOTH, {"Customer": {"anonymousId": "a2"}})}
    assert keys == {"Customer/userId:u1"}
    assert ordering.key({"Customer": {"anonymousId": "a3"}}) == "Customer/anonymousId:a3"


def test_actor_types_are_separate_actors() -> None:
    ordering = StitchedOrdering()
    assert ordering.keys({"Account": {"userId": "u1"}}) == ("Account/userId:u1", ())
    assert ordering.keys(USER) == ("Customer/userId:u1", ())
