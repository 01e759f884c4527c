"""Every flag of `serve` and `gateway` read from the variable of the same name
(httpkit/environment.py): the command line wins, lists are comma-separated, switches take
1/true/yes/on, a bad value is the flag's own one-line usage error."""

from __future__ import annotations

import pytest

from connector.cli import GATEWAY_ENV_PREFIX, build_parser
from httpkit.environment import flags_from_environment, subcommand, variable
from mockserver.__main__ import ENV_PREFIX, _parser


def _serve(environ: dict[str, str], given: list[str]) -> list[str]:
    return flags_from_environment(subcommand(_parser([]), "serve"), ENV_PREFIX, given, environ)


def test_the_variable_of_a_flag_is_the_prefix_and_the_flag_upper_cased() -> None:
    assert variable(ENV_PREFIX, "--max-body-bytes") == "POINTILLIST_MOCK_MAX_BODY_BYTES"
    assert variable(GATEWAY_ENV_PREFIX, "--pointillist-url") == "SEGMENT_GATEWAY_POINTILLIST_URL"


def test_variables_become_flags_and_the_command_line_wins() -> None:
    environ = {"POINTILLIST_MOCK_HOST": "0.0.0.0", "POINTILLIST_MOCK_PORT": "9000",
               "POINTILLIST_MOCK_DB": "/data/events.db", "POINTILLIST_MOCK_TOKENS": "t",
               "POINTILLIST_MOCK_UVLOOP": "0", "POINTILLIST_MOCK_URL": "http://x"}
    assert _serve(environ, ["--port=1234"]) == ["--host=0.0.0.0", "--db=/data/events.db"]
    assert _serve(environ, ["--port", "1234", "--host", "::1"]) == ["--db=/data/events.db"]


def test_a_repeatable_flag_takes_a_comma_separated_list() -> None:
    environ = {"POINTILLIST_MOCK_ALLOW_HOST": "mock, gateway,,", "POINTILLIST_MOCK_TOKEN": "a,b"}
    assert _serve(environ, []) == ["--token=a", "--token=b", "--allow-host=mock",
                                   "--allow-host=gateway"]
    assert _serve(environ, ["--allow-host", "x"]) == ["--token=a", "--token=b"]


def test_a_switch_takes_yes_or_no_and_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = subcommand(build_parser(), "gateway")
    on = {"SEGMENT_GATEWAY_MAP_PAGE_SCREEN": "True", "SEGMENT_GATEWAY_TOKEN_PER_WRITE_KEY": "0"}
    assert flags_from_environment(gateway, GATEWAY_ENV_PREFIX, [], on) == ["--map-page-screen"]
    with pytest.raises(SystemExit) as stopped:
        flags_from_environment(gateway, GATEWAY_ENV_PREFIX, [],
                               {"SEGMENT_GATEWAY_MAP_PAGE_SCREEN": "maybe"})
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "segment-connector gateway: error: SEGMENT_GATEWAY_MAP_PAGE_SCREEN='maybe': expected 1, "
        "true, yes or on, or 0, false, no or off; see segment-connector gateway --help\n")


def test_a_bad_value_is_the_flags_own_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from mockserver.__main__ import main

    monkeypatch.setenv("POINTILLIST_MOCK_PORT", "70000")
    with pytest.raises(SystemExit) as stopped:
        main(["serve"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "pointillist-mock serve: error: argument --port: must be from 0 to 65535, got 70000; "
        "see pointillist-mock serve --help\n")


def test_the_gateway_reads_its_required_flags_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENT_GATEWAY_POINTILLIST_URL", "http://127.0.0.1:1/event")
    monkeypatch.setenv("SEGMENT_GATEWAY_POINTILLIST_TOKEN", "tok")
    monkeypatch.setenv("SEGMENT_GATEWAY_WRITE_KEY", "k1,k2")
    parser = build_parser()
    given = ["gateway", "--port", "0"]
    given += flags_from_environment(subcommand(parser, "gateway"), GATEWAY_ENV_PREFIX, given[1:])
    args = parser.parse_args(given)
    assert (args.pointillist_url, args.pointillist_token, args.write_key, args.port) == (
        "http://127.0.0.1:1/event", "tok", ["k1", "k2"], 0)
