"""
What the confluent-kafka (librdkafka) producer scripts of the cluster and chaos suites share: the acks=all
settings that ride out a failover, one JSON line per delivery report ({"v","p","o"} on success,
{"v","err","retriable","fatal"} on failure), and the final flush with its summary line
{"done","sent","remaining"}. The scripts import it with test/helpers on sys.path.
"""
import json


def producer_config(bootstrap, idempotent, extra):
    """acks=all, a 30 s message timeout (long enough for a failover, short enough for a test's budget),
    quick metadata refresh and reconnects; `extra` (librdkafka properties) adds to or overrides them."""
    config = {
        'bootstrap.servers': bootstrap,
        'acks': 'all',
        'message.timeout.ms': 30000,
        'topic.metadata.refresh.interval.ms': 1000,
        'reconnect.backoff.max.ms': 500,
    }
    config.update(extra)
    if idempotent:
        config['enable.idempotence'] = True
    return config


def report(err, msg):
    """on_delivery callback: prints the delivery as one JSON line."""
    value = msg.value().decode()
    if err is None:
        print(json.dumps({'v': value, 'p': msg.partition(), 'o': msg.offset()}), flush=True)
    else:
        print(json.dumps({'v': value, 'err': str(err), 'retriable': err.retriable(), 'fatal': err.fatal()}), flush=True)


def flush_and_summarise(producer, sent):
    """Flushes for up to 40 s and prints the summary line."""
    remaining = producer.flush(40)
    print(json.dumps({'done': True, 'sent': sent, 'remaining': remaining}), flush=True)
