"""kafka-python / confluent-kafka over TLS and SASL against kafscale; prints one JSON object.

usage: security.py CLIENT LISTENER BOOTSTRAP CAFILE MECHANISM USER PASSWORD TOPIC
CLIENT: kafka-python | confluent. MECHANISM: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or - (SSL).
Produces 10 records and consumes them back; with a wrong password reports the error it got.
The password is read from the environment (KAFSCALE_TEST_PASSWORD), never from argv.
"""
import json
import os
import sys
import time

client, listener, bootstrap, cafile, mechanism, user, topic = sys.argv[1:8]
password = os.environ["KAFSCALE_TEST_PASSWORD"]
COUNT = 10


def kafka_python():
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.errors import KafkaError
    common = {"bootstrap_servers": bootstrap, "security_protocol": listener, "api_version_auto_timeout_ms": 10000, "request_timeout_ms": 15000}
    if listener in ("SSL", "SASL_SSL"):
        common.update(ssl_cafile=cafile, ssl_check_hostname=False)
    if listener.startswith("SASL"):
        common.update(sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password)
    try:
        producer = KafkaProducer(acks="all", **common)
        for i in range(COUNT):
            producer.send(topic, key=b"k%d" % i, value=b"v%d" % i).get(timeout=20)
        producer.close()
        consumer = KafkaConsumer(auto_offset_reset="earliest", consumer_timeout_ms=20000, enable_auto_commit=False, **common)
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        values = []
        for message in consumer:
            values.append(message.value.decode())
            if len(values) == COUNT:
                break
        consumer.close()
        return {"values": values}
    except Exception as error:  # the test asserts on the class name
        return {"error": type(error).__name__, "message": str(error)[:300]}


def confluent():
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
    config = {"bootstrap.servers": bootstrap, "security.protocol": listener}
    if listener in ("SSL", "SASL_SSL"):
        config["ssl.ca.location"] = cafile
    if listener.startswith("SASL"):
        config.update({"sasl.mechanisms": mechanism, "sasl.username": user, "sasl.password": password})
    errors = []

    def on_error(error):
        errors.append(error)

    producer = Producer({**config, "acks": "all", "error_cb": on_error, "message.timeout.ms": 15000})
    delivered = []
    for i in range(COUNT):
        producer.produce(topic, key=b"k%d" % i, value=b"v%d" % i, on_delivery=lambda err, msg: delivered.append(err))
    deadline = time.time() + 20
    while len(delivered) < COUNT and time.time() < deadline and not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
        producer.poll(0.2)
    auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    if auth:
        return {"error": "_AUTHENTICATION", "message": auth[0].str()[:300]}
    if len(delivered) != COUNT or any(d is not None for d in delivered):
        return {"error": "delivery", "message": str([str(d) for d in delivered] + [e.str() for e in errors])[:300]}
    consumer = Consumer({**config, "group.id": "g-" + topic, "auto.offset.reset": "earliest", "enable.auto.commit": False, "error_cb": on_error})
    consumer.assign([TopicPartition(topic, 0, 0)])
    values = []
    deadline = time.time() + 20
    while len(values) < COUNT and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is None or message.error():
            continue
        values.append(message.value().decode())
    consumer.close()
    return {"values": values}


print(json.dumps(kafka_python() if client == "kafka-python" else confluent()))
