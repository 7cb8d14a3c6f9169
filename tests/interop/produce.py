#!/usr/bin/env python3
# tests/interop/produce.py - an independent producer of careerstream events, in Python.
#
# It implements the event contract from schemas/ alone (schemas/README.md, envelope.avsc,
# events/<event>/v<N>.avsc, topics.json), with an Avro library of PyPI (fastavro) and the Kafka
# client of PyPI (confluent-kafka): it shares no code with careerstream, so events it writes and
# careerstream's workers accept show that the contract, not an implementation detail, is what the
# two sides agree on. Run by the venv python of scripts/bootstrap (.cache/venv).
#
#   produce.py fingerprints               "event vN <16 hex>" for every schema version (compare
#                                         with schemas/fingerprints.lock)
#   produce.py sample [--learners N] [--seed S] [--v1 K]
#                                         a deterministic stream of events of every handled type
#                                         for N learners, one JSON line each (the documented
#                                         JSON form); the first K learners' second content's
#                                         content_progress events say schema_version 1
#   produce.py publish --brokers B [--topic-prefix P | --topic T] [--corrupt-fingerprint ID]
#                      FILE.jsonl         publish JSON-form events in the wire format, each with
#                                         the version its line names (default: the current one)
#   produce.py dump --brokers B --topic T one line per message of T: partition, key, value in
#                                         hex, headers (to compare two producers' output)
#
# The wire format (schemas/README.md, "Wire format"): Avro single-object encoding, C3 01, the
# CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form (little-endian), the Avro
# binary datum. The writer schema is the envelope record whose last field's type is the payload
# record, the whole named careerstream.events.<Payload>Event. The key is user_id as text, the
# partitioner murmur2 (as Java's), the producer idempotent with acks=all, the headers
# cs.event_type, cs.schema_fingerprint and traceparent (when the event has one).
import argparse
import datetime
import json
import os
import random
import struct
import sys
import time
import uuid

import fastavro
from fastavro.schema import fingerprint as fa_fingerprint
from fastavro.schema import to_parsing_canonical_form

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.normpath(os.path.join(HERE, "..", "..", "schemas"))
MAGIC = b"\xc3\x01"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

# ---- CRC-64-AVRO, as the Avro specification defines it ("Schema Fingerprints") ----------------

_EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def crc64_avro(data):
    fp = _EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


# ---- the contract's schemas ------------------------------------------------------------------


class Contract:
    """Every event's versions, full writer schemas, fingerprints and topic, from schemas/."""

    def __init__(self, root=SCHEMAS):
        with open(os.path.join(root, "envelope.avsc")) as f:
            self.envelope = json.load(f)
        with open(os.path.join(root, "topics.json")) as f:
            topics = json.load(f)
        self.topic_of = {}
        for t in topics["topics"]:
            for ev in t["events"]:
                self.topic_of[ev] = t["name"]
        self.versions = {}  # event -> {version: writer}
        events_dir = os.path.join(root, "events")
        for ev in sorted(os.listdir(events_dir)):
            for name in sorted(os.listdir(os.path.join(events_dir, ev))):
                if name.startswith("v") and name.endswith(".avsc"):
                    v = int(name[1:-5])
                    with open(os.path.join(events_dir, ev, name)) as f:
                        payload = json.load(f)
                    self.versions.setdefault(ev, {})[v] = Writer(self.full_schema(payload), v)

    def full_schema(self, payload):
        """The envelope with the payload record as its last field's type, named <Payload>Event."""
        full = json.loads(json.dumps(self.envelope))
        full["name"] = payload["name"] + "Event"
        n = 0
        for field in full["fields"]:
            if field["type"] == "PAYLOAD":
                field["type"] = payload
                n += 1
        if n != 1 or full["fields"][-1]["type"] is not payload:
            raise ValueError("envelope.avsc: the last field must be the only PAYLOAD field")
        return full

    def current(self, event):
        return max(self.versions[event])


class Writer:
    def __init__(self, schema, version):
        self.version = version
        self.schema = schema
        self.parsed = fastavro.parse_schema(schema)
        canonical = to_parsing_canonical_form(self.parsed)
        fp = crc64_avro(canonical.encode("utf-8"))
        self.fp_bytes = struct.pack("<Q", fp)  # the wire's byte order
        # fastavro's own CRC-64-AVRO (hex of the same little-endian bytes) must agree.
        if fa_fingerprint(canonical, "CRC-64-AVRO") != self.fp_bytes.hex():
            raise AssertionError("CRC-64-AVRO disagrees with fastavro for " + schema["name"])
        self.timestamps = _timestamp_fields(schema)

    def encode(self, datum, fp_bytes=None):
        from io import BytesIO

        out = BytesIO()
        out.write(MAGIC)
        out.write(fp_bytes if fp_bytes is not None else self.fp_bytes)
        fastavro.schemaless_writer(out, self.parsed, datum)
        return out.getvalue()


def _is_ts(t):
    if isinstance(t, dict) and t.get("logicalType") == "timestamp-millis":
        return True
    if isinstance(t, list):
        return any(_is_ts(x) for x in t)
    return False


def _timestamp_fields(schema):
    """Paths ("occurred_at", "payload.started_at") of timestamp-millis fields."""
    out = set()
    for f in schema["fields"]:
        if _is_ts(f["type"]):
            out.add(f["name"])
        elif isinstance(f["type"], dict) and f["type"].get("type") == "record":
            out |= {f["name"] + "." + p for p in _timestamp_fields(f["type"])}
    return out


# ---- the JSON form (schemas/README.md, "The JSON form") -> an Avro datum -------------------------


def to_millis(v):
    """An RFC 3339 string (Z or +hh:mm, at most milliseconds) or integer milliseconds."""
    if v is None or isinstance(v, int):
        return v
    d = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    return (d - EPOCH) // datetime.timedelta(milliseconds=1)


def datum_of(ev, writer):
    payload = dict(ev["payload"])
    for path in writer.timestamps:
        if path.startswith("payload.") and path[8:] in payload:
            payload[path[8:]] = to_millis(payload[path[8:]])
    return {
        "event_id": ev["event_id"],
        "event_type": ev["event_type"],
        "occurred_at": to_millis(ev["occurred_at"]),
        "user_id": ev["user_id"],
        "producer": ev["producer"],
        "schema_version": writer.version,
        "traceparent": ev.get("traceparent"),
        "payload": payload,
    }


# ---- publish ---------------------------------------------------------------------------------------


def publish(args):
    from confluent_kafka import Producer

    contract = Contract(args.schemas)
    producer = Producer(
        {
            "bootstrap.servers": args.brokers,
            "client.id": "interop-python",
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 10,
            "compression.type": "lz4",
        }
    )
    failed = []
    delivered = [0]

    def on_delivery(err, msg):
        if err is not None:
            failed.append(str(err))
        else:
            delivered[0] += 1

    t0 = time.monotonic()
    per_topic = {}
    n = 0
    with open(args.file) if args.file != "-" else sys.stdin as f:
        for line in f:
            if not line.strip():
                continue
            ev = json.loads(line)
            event = ev["event_type"]
            version = ev.get("schema_version") or contract.current(event)
            writer = contract.versions[event][version]
            fp = writer.fp_bytes
            if args.corrupt_fingerprint and ev["event_id"] == args.corrupt_fingerprint:
                fp = bytes(b ^ 0x5A for b in fp)  # no schema has this fingerprint
            value = writer.encode(datum_of(ev, writer), fp)
            headers = [("cs.event_type", event.encode()), ("cs.schema_fingerprint", fp.hex().encode())]
            if ev.get("traceparent"):
                headers.append(("traceparent", ev["traceparent"].encode()))
            topic = args.topic or args.topic_prefix + contract.topic_of[event]
            while True:
                try:
                    producer.produce(topic, value=value, key=ev["user_id"].encode(), headers=headers,
                                     on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
            per_topic[topic] = per_topic.get(topic, 0) + 1
            n += 1
    left = producer.flush(args.flush_timeout)
    summary = {"published": n, "delivered": delivered[0], "failed": len(failed), "undelivered": left,
               "seconds": round(time.monotonic() - t0, 3), "topics": per_topic}
    print(json.dumps(summary, sort_keys=True))
    for e in failed[:5]:
        print("produce.py: not delivered: " + e, file=sys.stderr)
    return 0 if delivered[0] == n and not failed and left == 0 else 1


def fingerprints(args):
    contract = Contract(args.schemas)
    for event in contract.versions:
        for v, w in sorted(contract.versions[event].items()):
            print("%s v%d %s" % (event, v, w.fp_bytes.hex()))
    return 0


def dump(args):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": args.brokers, "group.id": "interop-dump-%d" % os.getpid(),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    md = c.list_topics(args.topic, timeout=10)
    parts = sorted(md.topics[args.topic].partitions)
    c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in parts])
    left = set(parts)
    deadline = time.monotonic() + 30
    lines = []
    while left and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                left.discard(m.partition())
                continue
            raise SystemExit("produce.py dump: " + str(m.error()))
        hdrs = sorted((k, v.decode()) for k, v in (m.headers() or []))
        lines.append("%d %s %s %s" % (m.partition(), m.key().decode(), m.value().hex(), json.dumps(hdrs)))
    c.close()
    if left:
        raise SystemExit("produce.py dump: partitions %s did not reach their end" % sorted(left))
    for line in sorted(lines):
        print(line)
    return 0


# ---- sample: a deterministic stream of events of every type the workers handle -----------------------


def sample(args):
    rng = random.Random(args.seed)

    def uid():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    base = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.timezone.utc)
    out = []
    mentors = [uid() for _ in range(3)]
    skills = [(uid(), "SQL"), (uid(), "Python"), (uid(), "Statistics")]
    t = [0]

    def at(minutes=0):
        t[0] += 1 + minutes
        d = base + datetime.timedelta(minutes=t[0], milliseconds=rng.randrange(1000))
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)

    def trace():
        return "00-%032x-%016x-01" % (rng.getrandbits(128) | 1, rng.getrandbits(64) | 1)

    def emit(event, user, payload, producer="learning-app", traced=True, **extra):
        ev = {"event_type": event, "event_id": uid(), "occurred_at": at(), "user_id": user,
              "producer": producer, "traceparent": trace() if traced else None, "payload": payload}
        ev.update(extra)
        out.append(ev)

    v1_left = args.v1
    for m in mentors:
        emit("mentor_availability_changed", m,
             {"mentor_id": m, "accepting_mentees": True, "max_mentees": 6, "current_mentees": rng.randrange(6),
              "weekly_hours": 5, "expertise_areas": ["data analytics", "interview coaching"],
              "unavailable_until": None}, producer="mentoring-app")
    for i in range(args.learners):
        user = uid()
        mentor = mentors[i % len(mentors)]
        module = uid()
        emit("learner_profile_updated", user,
             {"target_industry": "fintech", "target_role": "Data Analyst %d" % i, "current_industry": None,
              "career_stage": "learning", "available_study_hours_week": 10 + i}, producer="profile-app")
        for c in range(2):
            content = uid()
            spent = 0
            for step, (prog, pct) in enumerate([("started", 0), ("in_progress", 40 + c), ("completed", 100)]):
                s = 60 * (step + 1) + i
                spent += s
                p = {"content_id": content, "content_kind": "chunk", "module_id": module, "progress": prog,
                     "percent_complete": pct, "time_spent_seconds": s}
                extra = {}
                if v1_left > 0 and c == 1:
                    extra["schema_version"] = 1  # v1 has no session_id/attempt
                    v1_left -= 1 if step == 2 else 0
                else:
                    p.update({"session_id": uid(), "attempt": 1})
                emit("content_progress", user, p, **extra)
        sk_id, sk_name = skills[i % len(skills)]
        score = 60 + i + 0.5
        emit("assessment_completed", user,
             {"assessment_id": uid(), "assessment_type": "coding_challenge", "skill_id": sk_id, "skill_name": sk_name,
              "score": score, "passing_score": 70, "passed": score >= 70, "attempt": 1, "duration_seconds": 900 + i})
        emit("skill_assessed", user,
             {"skill_id": sk_id, "skill_name": sk_name, "proficiency": "intermediate", "score": 64.25,
              "method": "mentor", "assessor_id": mentor})
        emit("career_milestone_reached", user,
             {"milestone_id": uid(), "milestone_type": "portfolio_ready", "title": "Portfolio ready %d" % i,
              "career_stage": "job_searching", "readiness_points": 10 + i})
        emit("coaching_session_logged", user,
             {"session_id": uid(), "mentor_id": mentor, "relationship_id": None, "session_type": "interview_prep",
              "started_at": at(-1), "duration_minutes": 30 + i, "learner_rating": 4, "mentor_rating": None,
              "goals_discussed": ["mock behavioral interview", "salary negotiation \u00e9"],
              "notes": "Practise STAR answers #%d." % i}, producer="mentoring-app")
        emit("mentor_feedback_given", user,
             {"feedback_id": uid(), "mentor_id": mentor, "relationship_id": None, "progress_rating": 4,
              "engagement_rating": 5, "readiness_estimate": 70, "recommends_rematch": False, "comment": None},
             producer="mentoring-app", traced=False)
        app = uid()
        emit("job_application_submitted", user,
             {"application_id": app, "company_name": "Northwind %d" % i, "job_title": "Junior Data Analyst",
              "target_industry": "fintech", "role_level": "junior", "channel": "referral", "work_mode": "hybrid",
              "job_posting_url": "https://jobs.example.com/postings/%d" % i, "salary_expected": 50000 + i,
              "salary_currency": "EUR"}, producer="jobs-app")
        emit("application_status_changed", user,
             {"application_id": app, "status": "interview", "previous_status": "submitted", "interview_round": 1,
              "salary_offered": None, "salary_currency": None, "rejection_reason": None}, producer="jobs-app")
        final = "accepted" if i % 2 == 0 else "rejected"
        emit("application_status_changed", user,
             {"application_id": app, "status": final, "previous_status": "interview", "interview_round": None,
              "salary_offered": 54000 + i if final == "accepted" else None,
              "salary_currency": "EUR" if final == "accepted" else None,
              "rejection_reason": None if final == "accepted" else "Another candidate"}, producer="jobs-app")
        emit("interview_practice_completed", user,
             {"practice_id": uid(), "interview_type": "technical", "target_role": "Junior Data Analyst",
              "score": 72.75, "duration_minutes": 45, "interviewer_id": None, "confidence_rating": 3},
             producer="jobs-app")
        emit("employer_feedback_received", user,
             {"feedback_id": uid(), "employer_name": "Northwind %d" % i, "job_title": "Junior Data Analyst",
              "months_since_hire": 6, "performance_rating": 4, "technical_skills_rating": 4,
              "soft_skills_rating": 5, "would_hire_again": True, "comment": None}, producer="jobs-app")
        project = uid()
        emit("portfolio_project_submitted", user,
             {"project_id": project, "template_id": None, "title": "Loan dashboard %d" % i,
              "repository_url": "https://git.example.com/l%d/loans" % i, "demo_url": None,
              "technologies": ["python", "postgresql"], "target_industry": "fintech", "revision": 1},
             producer="portfolio-app")
        emit("project_reviewed", user,
             {"project_id": project, "review_id": uid(), "reviewer_id": mentor, "reviewer_role": "mentor",
              "overall_rating": 4, "code_quality_rating": 3, "showcase_ready": True,
              "feedback": "Clear README; add tests."}, producer="portfolio-app")
    for ev in out:
        print(json.dumps(ev, ensure_ascii=False))
    return 0


def main():
    ap = argparse.ArgumentParser(description="an independent Python producer of careerstream events")
    ap.add_argument("--schemas", default=SCHEMAS, help="the schemas/ directory")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("publish")
    p.add_argument("--brokers", default=os.environ.get("CS_KAFKA_BROKERS"), required=not os.environ.get("CS_KAFKA_BROKERS"))
    p.add_argument("--topic-prefix", default="")
    p.add_argument("--topic", default=None, help="every event to this topic")
    p.add_argument("--corrupt-fingerprint", default=None, metavar="EVENT_ID",
                   help="write this event with a fingerprint no schema has")
    p.add_argument("--flush-timeout", type=float, default=30.0)
    p.add_argument("file")
    p.set_defaults(fn=publish)
    p = sub.add_parser("fingerprints")
    p.set_defaults(fn=fingerprints)
    p = sub.add_parser("sample")
    p.add_argument("--learners", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--v1", type=int, default=1, help="learners whose second content is written as v1")
    p.set_defaults(fn=sample)
    p = sub.add_parser("dump")
    p.add_argument("--brokers", default=os.environ.get("CS_KAFKA_BROKERS"), required=not os.environ.get("CS_KAFKA_BROKERS"))
    p.add_argument("--topic", required=True)
    p.set_defaults(fn=dump)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
