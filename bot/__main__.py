"""Command line: `python -m bot {run,web,worker,check-config,demo,backtest}`."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.errors import BotError, ConfigError, PlaybookError, SourceError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "backtest":
        from bot.backtest import main as backtest

        return backtest(argv[1:])

    parser = argparse.ArgumentParser(prog="python -m bot", description="Metric anomaly bot for Slack.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the web endpoints and the scheduler in one process")
    commands.add_parser("web", help="run the web endpoints only (development server)")
    commands.add_parser("worker", help="run the scheduler only")
    check = commands.add_parser("check-config", help="validate a monitors file and exit")
    check.add_argument("file", help="path to the monitors YAML file")
    check.add_argument("--probe", action="store_true",
                       help="also contact every configured source and report the unreachable ones")
    demo = commands.add_parser("demo", help="run the pipeline on a generated metric, in the terminal")
    demo.add_argument("--speed", type=float, default=0.05,
                      help="wall-clock seconds per simulated poll (default 0.05)")
    commands.add_parser("backtest", help="replay a CSV file through a detector (see backtest --help)")
    args = parser.parse_args(argv)

    from bot.settings import Settings

    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Every scheduler tick and HTTP request would otherwise log a line at INFO;
    # the bot logs its own line per outbound call.
    for noisy in ("apscheduler", "httpx", "werkzeug", "slack_sdk", "slack_bolt"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))

    try:
        if args.command == "check-config":
            return _check_config(args.file, probe=args.probe)
        if args.command == "demo":
            from bot.demo import run_demo

            return run_demo(speed=args.speed)

        from bot import service

        if args.command == "worker":
            return service.run_worker(settings)
        if args.command == "web":
            web = service.create_web(settings)
            web.run(host=settings.host, port=settings.port)
            return 0
        return service.run_all(settings)
    except (ConfigError, PlaybookError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _check_config(path: str, *, probe: bool) -> int:
    from bot.analysis import STEP_FIELDS
    from bot.monitors import load_monitors
    from bot.playbooks import load_playbooks
    from bot.settings import Settings
    from bot.sources.registry import build_sources, unconfigured_sources

    settings = Settings()
    monitors_file = load_monitors(path)
    monitors = monitors_file.monitors
    playbooks = load_playbooks(settings.playbooks_dir, fields=STEP_FIELDS)
    problems = [
        f"monitor {m.name!r}: field 'playbook': {m.playbook!r} is not a playbook; "
        f"use one of {', '.join(sorted(playbooks))}"
        for m in monitors if m.playbook not in playbooks
    ]
    if problems:
        raise ConfigError(path, problems)

    print(f"{path}: {len(monitors)} monitor(s) valid")
    for monitor in monitors:
        print(f"  {monitor.name}: {monitor.source} every {monitor.interval:g}s -> {monitor.channel}")
    sources = build_sources(settings, monitors_file.sources, origin=path)
    for note in unconfigured_sources(monitors, sources):
        print(f"note: {note}")

    if not probe:
        return 0
    failures = 0
    for name, source in sources.items():
        try:
            source.probe()
        except SourceError as error:
            failures += 1
            print(f"error: source {name!r}: {error}; check the URL and that the server is running",
                  file=sys.stderr)
        else:
            print(f"source {name!r}: reachable")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
