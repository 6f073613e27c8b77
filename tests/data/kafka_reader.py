"""The kafka: sink tests' reader: Kafka's reference client, librdkafka (PyPI's
confluent-kafka), creates the topic and reads every record back.

  kafka_reader.py create BOOTSTRAP TOPIC PARTITIONS
      creates TOPIC (an existing one is left as it is); prints nothing.
  kafka_reader.py read BOOTSTRAP TOPIC COUNT SECONDS
      reads every partition from its start until COUNT records arrived or
      SECONDS passed; one JSON line per record, in each partition's order:
      {"partition", "offset", "key", "value", "headers": [[name, value]...],
       "timestamp"}.
KAFKA_SASL_MECHANISM, KAFKA_SASL_USER and KAFKA_SASL_PASSWORD, when set, log
in (SASL_PLAINTEXT); KAFKA_SSL_CA, when set, names the CA of brokers that
speak TLS.
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def config(bootstrap):
    settings = {"bootstrap.servers": bootstrap}
    mechanism = os.environ.get("KAFKA_SASL_MECHANISM")
    if mechanism:
        settings.update(
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": mechanism,
                "sasl.username": os.environ["KAFKA_SASL_USER"],
                "sasl.password": os.environ["KAFKA_SASL_PASSWORD"],
            }
        )
    ca = os.environ.get("KAFKA_SSL_CA")
    if ca:
        settings["security.protocol"] = "SASL_SSL" if mechanism else "SSL"
        settings["ssl.ca.location"] = ca
    return settings


def create(bootstrap, topic, partitions):
    admin = AdminClient(config(bootstrap))
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=int(partitions), replication_factor=1)],
        operation_timeout=10,
        request_timeout=10,
    )
    try:
        futures[topic].result(timeout=15)
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def text(data):
    return None if data is None else data.decode("utf-8")


def read(bootstrap, topic, count, seconds):
    consumer = Consumer(
        {
            **config(bootstrap),
            "group.id": "kubectl-notify-tests",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    deadline = time.monotonic() + float(seconds)
    partitions = None
    while partitions is None:
        metadata = consumer.list_topics(topic, timeout=5)
        found = metadata.topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            partitions = sorted(found.partitions)
        elif time.monotonic() > deadline:
            raise SystemExit(f"kafka_reader: no topic {topic}")
        else:
            time.sleep(0.1)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    got = 0
    while got < int(count) and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(message.error())
        headers = [[name, text(value)] for name, value in (message.headers() or [])]
        print(
            json.dumps(
                {
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "key": text(message.key()),
                    "value": text(message.value()),
                    "headers": headers,
                    "timestamp": message.timestamp()[1],
                }
            ),
            flush=True,
        )
        got += 1
    consumer.close()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"create": create, "read": read}[command](*args)
