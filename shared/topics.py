"""Topic names (DESIGN §6, normative) and their partition counts, created by the project.

Partition counts are explicit so ordering and parallelism do not depend on broker defaults:
every complaint-keyed topic has the same count, so one complaint's lifecycle events, commands and
clock events land on the same partition number.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import kafka_layout

COMPLAINTS_SUBMITTED = "complaints.submitted"
COMPLAINTS_COMMANDS = "complaints.commands"
COMPLAINTS_EVENTS = "complaints.events"
COMPLAINTS_ASSIGNED = "complaints.assigned"
SLA_EVENTS = "sla.events"
# Each pemda's OPD catalog (names) as it now is, key = pemda: routing → sla (issue 21 item 5).
CATALOG_CHANGES = "catalog.changes"

# Consumer groups; each has its dead-letter topic `<group>.dlq`.
ROUTING_GROUP = "routing"
ROUTING_DUES_GROUP = "routing-dues"  # sla.events → each OPD queue's nearest due, off the routing path
# complaints.events → transfers counted per pemda × category × from × to (rule suggestions)
ROUTING_TRANSFERS_GROUP = "routing-transfers"
# complaints.events + sla.events → e-mails to the staff who must act (issue 21 item 4)
ROUTING_STAFF_MAIL_GROUP = "routing-staff-mail"
SLA_GROUP = "sla"
SLA_REPORTS_GROUP = "sla-reports"  # supervisor counters, built from sla.events + complaints.events
INTAKE_GROUP = "intake"
GROUPS = (
    ROUTING_GROUP,
    ROUTING_DUES_GROUP,
    ROUTING_TRANSFERS_GROUP,
    ROUTING_STAFF_MAIL_GROUP,
    SLA_GROUP,
    SLA_REPORTS_GROUP,
    INTAKE_GROUP,
)
# Groups that follow another group's dead letters (shared.deadletters.LetterConsumer), each with
# the group it follows. They have no dead-letter topic of their own (a letter they cannot use is
# skipped, with a log line) and nothing to replay, so they are not in GROUPS.
INTAKE_DEAD_COMMANDS_GROUP = "intake-dead-commands"  # routing.dlq → reporter commands rejected
FOLLOWERS = {INTAKE_DEAD_COMMANDS_GROUP: ROUTING_GROUP}


def dlq(group: str) -> str:
    return f"{group}.dlq"


# What each group reads (the consumer specs in services/*/ say the same): `pengaduan status`
# shows each group's lag over these, and the e2e tier waits for the groups to catch up on them.
GROUP_TOPICS: dict[str, tuple[str, ...]] = {
    ROUTING_GROUP: (COMPLAINTS_SUBMITTED, COMPLAINTS_COMMANDS),
    ROUTING_DUES_GROUP: (SLA_EVENTS,),
    ROUTING_TRANSFERS_GROUP: (COMPLAINTS_EVENTS,),
    ROUTING_STAFF_MAIL_GROUP: (COMPLAINTS_EVENTS, SLA_EVENTS),
    SLA_GROUP: (COMPLAINTS_EVENTS,),
    SLA_REPORTS_GROUP: (SLA_EVENTS, COMPLAINTS_EVENTS, CATALOG_CHANGES),
    INTAKE_GROUP: (COMPLAINTS_EVENTS, SLA_EVENTS, CATALOG_CHANGES),
    INTAKE_DEAD_COMMANDS_GROUP: (dlq(ROUTING_GROUP),),
}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    # Topic configs the project requires (applied at creation, checked and corrected after).
    config: tuple[tuple[str, str], ...] = ()


# The event topics keep everything (DESIGN §6): a replay from the beginning is always complete.
KEEP_FOREVER = (("retention.ms", "-1"), ("retention.bytes", "-1"))


COMPLAINT_PARTITIONS = kafka_layout().complaint_partitions  # KAFKA_COMPLAINT_PARTITIONS

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(COMPLAINTS_SUBMITTED, COMPLAINT_PARTITIONS, KEEP_FOREVER),
    TopicSpec(COMPLAINTS_COMMANDS, COMPLAINT_PARTITIONS, KEEP_FOREVER),
    TopicSpec(COMPLAINTS_EVENTS, COMPLAINT_PARTITIONS, KEEP_FOREVER),
    TopicSpec(COMPLAINTS_ASSIGNED, COMPLAINT_PARTITIONS),
    TopicSpec(SLA_EVENTS, COMPLAINT_PARTITIONS, KEEP_FOREVER),
    # Compacted: the latest catalog of each pemda stays, so a new consumer rebuilds every name.
    TopicSpec(CATALOG_CHANGES, 3, (("cleanup.policy", "compact"),)),
    # A dead letter is the only record of a message its group committed past: kept until replayed.
    *(TopicSpec(dlq(group), 1, KEEP_FOREVER) for group in GROUPS),
)
