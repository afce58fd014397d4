"""``ilrflow topics ensure|describe``.

``describe`` without topic names covers the whole deployment: every pooled topic and the topics
of every lane that exists on the broker, each with its consumer groups' lag and a summary."""

from __future__ import annotations

from typing import Any

import typer
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from ilrflow.ops.common import (
    EXIT_NOT_FOUND,
    deployment_topics,
    emit_json,
    fail,
    new_consumer,
    partitions_of,
    run,
    settings,
)
from ilrflow.platform.kafka import all_topics, ensure_topics
from ilrflow.platform.settings import Settings

app = typer.Typer(
    help="Kafka topics: create them, see offsets and consumer lag.", no_args_is_help=True
)


@app.command("ensure")
def topics_ensure(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Create every ilrflow topic (and its dead-letter topic) that does not exist yet, and give
    existing ones the retention they should have (docs/operations.md, Retention)."""
    s = settings()
    created = run(
        lambda: ensure_topics(s.kafka_bootstrap, s.topic_partitions, prefix=s.topic_prefix)
    )
    if as_json:
        emit_json({"created": created, "topics": all_topics(s.topic_prefix)})
    else:
        typer.echo(
            f"created {len(created)} topic(s); {len(all_topics(s.topic_prefix))} wanted in all"
        )


@app.command("describe")
def topics_describe(
    topic: list[str] = typer.Argument(
        None,
        help="Logical topic names (e.g. tracker-processed, lane-acme.tracker-processed); "
        "default: every topic of the deployment, lane topics included.",
    ),
    group_prefix: str | None = typer.Option(
        None, help="Only consumer groups starting with this; default '<db_prefix>.'."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Partitions, configs, end offsets, each consumer group's lag per partition, and a lag
    summary."""
    s = settings()
    prefix = group_prefix if group_prefix is not None else f"{s.db_prefix}."
    report = run(lambda: describe(s, list(topic or []), prefix))
    if as_json:
        emit_json(report)
        return
    _print_report(report)


def _print_report(report: list[dict[str, Any]]) -> None:
    for item in report:
        typer.secho(f"{item['topic']}  ({item['physical']})", bold=True)
        configs = ", ".join(f"{k}={v}" for k, v in item["configs"].items())
        typer.echo(f"  configs: {configs}")
        for p in item["partitions"]:
            typer.echo(
                f"  [{p['partition']}] leader={p['leader']} replicas={p['replicas']} "
                f"isr={p['isr']} end={p['end_offset']}"
            )
        for group in item["groups"]:
            lags = " ".join(f"{p}:{lag}" for p, lag in group["lag"].items())
            typer.echo(f"  group {group['group']}: total lag {group['total_lag']} ({lags})")
    typer.secho("lag summary", bold=True)
    for item in report:
        if item["groups"]:
            typer.echo(
                f"  {item['topic']:<45} total lag {item['total_lag']:>7}  "
                f"{item['lagging_groups']}/{len(item['groups'])} group(s) behind"
            )
        else:
            typer.echo(f"  {item['topic']:<45} no consumer group has committed")
    total = sum(item["total_lag"] for item in report)
    typer.echo(f"  {len(report)} topic(s), total lag {total}")


# Configs worth showing; the broker returns dozens of defaults otherwise.
SHOWN_CONFIGS = (
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "min.insync.replicas",
    "segment.bytes",
)


async def describe(s: Settings, wanted: list[str], group_prefix: str) -> list[dict[str, Any]]:
    """Topics ``wanted`` (logical names), or every topic of the deployment if none."""
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, client_id="ilrflow-cli")
    await admin.start()
    consumer = await new_consumer(s)
    try:
        existing = set(await admin.list_topics())
        logical = wanted or deployment_topics(s.topic_prefix, existing)
        physical = [s.topic_prefix + t for t in logical]
        missing = [t for t in physical if t not in existing]
        if missing:
            fail(f"no such topic(s): {', '.join(missing)}", EXIT_NOT_FOUND)
        metadata = {d["topic"]: d for d in await admin.describe_topics(physical)}
        configs = await _configs(admin, physical)
        groups = sorted(
            g[0] for g in await admin.list_consumer_groups() if str(g[0]).startswith(group_prefix)
        )
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items()}
        report = []
        for logical_name, name in zip(logical, physical, strict=True):
            partitions = await partitions_of(consumer, name)
            end = await consumer.end_offsets(partitions) if partitions else {}
            item: dict[str, Any] = {
                "topic": logical_name,
                "physical": name,
                "configs": configs.get(name, {}),
                "partitions": [
                    {
                        "partition": p["partition"],
                        "leader": p["leader"],
                        "replicas": list(p["replicas"]),
                        "isr": list(p["isr"]),
                        "end_offset": end.get(TopicPartition(name, p["partition"]), 0),
                    }
                    for p in sorted(metadata[name]["partitions"], key=lambda p: p["partition"])
                ],
                "groups": [],
                "total_lag": 0,
                "lagging_groups": 0,
            }
            for group, offsets in committed.items():
                mine = {tp: o for tp, o in offsets.items() if tp.topic == name}
                if not mine:
                    continue
                # A partition the group has never committed on lags by all of it.
                lag = {tp.partition: end[tp] - max(mine.get(tp, 0), 0) for tp in partitions}
                item["groups"].append(
                    {
                        "group": group,
                        "committed": {tp.partition: o for tp, o in sorted(mine.items())},
                        "lag": lag,
                        "total_lag": sum(lag.values()),
                    }
                )
            item["total_lag"] = sum(group["total_lag"] for group in item["groups"])
            item["lagging_groups"] = sum(1 for group in item["groups"] if group["total_lag"])
            report.append(item)
        return report
    finally:
        await consumer.stop()
        await admin.close()


async def _configs(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, configs=dict.fromkeys(SHOWN_CONFIGS))
        for name in topics
    ]
    found: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            # (error_code, error_message, resource_type, resource_name, config_entries)
            name, entries = resource[3], resource[4]
            found[name] = {entry[0]: entry[1] for entry in entries}
    return found
