from aiohttp import ClientSession

from tests.conftest import make_event


async def test_an_event_is_stored_and_listed_exactly_as_received(
    mock_url: str, http: ClientSession
) -> None:
    event = make_event()
    async with http.post(f"{mock_url}/event", json=event) as response:
        assert response.status == 202
        answer = await response.json()
    async with http.get(f"{mock_url}/_mock/events") as response:
        listed = await response.json()
    assert listed["total"] == 1
    assert listed["events"][0]["id"] == answer["id"]
    assert listed["events"][0]["event"] == event
    assert listed["events"][0]["eventTime"] == "2026-11-28T10:00:00.000Z"
