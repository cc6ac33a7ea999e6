// The sarama client (Debian's golang-github-shopify-sarama-dev, 1.22) against a kafscale broker, driven by
// sarama.test.ts. Built offline in GOPATH mode with Debian's Go; prints one JSON object on stdout with what
// each step saw, and the test asserts on it. A failed step records its error and later steps still run
// where they can, so that one answer shows every broken capability.
//
// With Version 2.0.0, sarama sends: Produce v3, Fetch v4, ListOffsets v1, OffsetCommit v1 (v2 only with
// a retention time), OffsetFetch v1, DescribeConfigs v0, AlterConfigs v0, CreateTopics v2, DeleteTopics v1,
// CreatePartitions v0, JoinGroup v0–1, ListGroups v0, DescribeGroups v0, DeleteGroups v0. A second client
// at 0.10.0 sends ListOffsets v0.
//
//	sarama-compat <bootstrap> <topic> <group>
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

const partitions = 3
const perPartition = 10

type report struct {
	Errors map[string]string `json:"errors"`

	Produced int      `json:"produced"`
	Consumed []string `json:"consumed"`

	// Consumer group: the first run reads everything and commits; the second (same group id) must read
	// only what was produced after, because it resumes from the committed offsets.
	GroupFirstRun     []string         `json:"groupFirstRun"`
	CommittedAfterRun map[string]int64 `json:"committedAfterRun"`
	GroupSecondRun    []string         `json:"groupSecondRun"`

	OffsetByTimeV1   int64 `json:"offsetByTimeV1"`
	OffsetAfterAllV1 int64 `json:"offsetAfterAllV1"`
	OldestV0         int64 `json:"oldestV0"`
	NewestV0         int64 `json:"newestV0"`

	RetentionBefore        string   `json:"retentionBefore"`
	RetentionBeforeDefault bool     `json:"retentionBeforeDefault"`
	RetentionAfter         string   `json:"retentionAfter"`
	RetentionAfterDefault  bool     `json:"retentionAfterDefault"`
	PartitionsAfterCreate  int      `json:"partitionsAfterCreate"`
	GroupsListed           []string `json:"groupsListed"`
	GroupState             string   `json:"groupState"`
	GroupsAfterDelete      []string `json:"groupsAfterDelete"`
	TopicListedAfterDelete bool     `json:"topicListedAfterDelete"`
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sarama-compat <bootstrap> <topic> <group>")
		os.Exit(2)
	}
	bootstrap, topic, group := []string{os.Args[1]}, os.Args[2], os.Args[3]
	r := &report{Errors: map[string]string{}, CommittedAfterRun: map[string]int64{}, OffsetByTimeV1: -9, OffsetAfterAllV1: -9, OldestV0: -9, NewestV0: -9}
	var failMu sync.Mutex
	fail := func(step string, err error) {
		failMu.Lock()
		defer failMu.Unlock()
		r.Errors[step] = err.Error()
	}

	conf := sarama.NewConfig()
	conf.ClientID = "kafscale-sarama-compat"
	conf.Version = sarama.V2_0_0_0
	conf.Producer.Return.Successes = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Partitioner = sarama.NewManualPartitioner
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	conf.Consumer.Group.Session.Timeout = 10 * time.Second
	conf.Consumer.Group.Heartbeat.Interval = 1 * time.Second
	conf.Metadata.Retry.Max = 10
	conf.Metadata.Retry.Backoff = 200 * time.Millisecond

	admin, err := sarama.NewClusterAdmin(bootstrap, conf)
	if err != nil {
		fail("admin", err)
		emit(r)
		return
	}
	defer admin.Close()
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
		fail("createTopic", err)
	}

	// Produce with explicit timestamps one second apart, ending a minute ago.
	baseMs := time.Now().Add(-time.Minute).UnixNano()/int64(time.Millisecond) - perPartition*1000
	produce := func(prefix string, count int) {
		producer, err := sarama.NewSyncProducer(bootstrap, conf)
		if err != nil {
			fail("producer", err)
			return
		}
		defer producer.Close()
		for i := 0; i < count; i++ {
			for p := int32(0); p < partitions; p++ {
				msg := &sarama.ProducerMessage{
					Topic:     topic,
					Partition: p,
					Value:     sarama.StringEncoder(fmt.Sprintf("%s-%d-%d", prefix, p, i)),
					Timestamp: time.Unix(0, (baseMs+int64(i)*1000)*int64(time.Millisecond)),
				}
				if _, _, err := producer.SendMessage(msg); err != nil {
					fail("produce-"+prefix, err)
					return
				}
				r.Produced++
			}
		}
	}
	produce("a", perPartition)

	// Plain consumer: every partition from the oldest offset.
	r.Consumed = consumeAll(bootstrap, conf, topic, perPartition*partitions, fail)

	// Offsets by time: ListOffsets v1 (2.0.0) and v0 (0.10.0).
	if client, err := sarama.NewClient(bootstrap, conf); err != nil {
		fail("client", err)
	} else {
		if r.OffsetByTimeV1, err = client.GetOffset(topic, 0, baseMs+4500); err != nil {
			fail("offsetByTimeV1", err)
		}
		if r.OffsetAfterAllV1, err = client.GetOffset(topic, 0, baseMs+3_600_000); err != nil {
			fail("offsetAfterAllV1", err)
		}
		client.Close()
	}
	oldConf := sarama.NewConfig()
	oldConf.ClientID = "kafscale-sarama-compat-0.10"
	oldConf.Version = sarama.V0_10_0_0
	if client, err := sarama.NewClient(bootstrap, oldConf); err != nil {
		fail("clientV0", err)
	} else {
		if r.OldestV0, err = client.GetOffset(topic, 0, sarama.OffsetOldest); err != nil {
			fail("oldestV0", err)
		}
		if r.NewestV0, err = client.GetOffset(topic, 0, sarama.OffsetNewest); err != nil {
			fail("newestV0", err)
		}
		client.Close()
	}

	// Consumer group with commits, then a restart that must resume after the committed offsets.
	r.GroupFirstRun = consumeGroup(bootstrap, conf, topic, group, perPartition*partitions, fail, "groupFirstRun")
	if offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}}); err != nil {
		fail("listConsumerGroupOffsets", err)
	} else {
		for p := int32(0); p < partitions; p++ {
			if block := offsets.GetBlock(topic, p); block != nil {
				r.CommittedAfterRun[fmt.Sprint(p)] = block.Offset
			}
		}
	}
	produce("b", 2)
	r.GroupSecondRun = consumeGroup(bootstrap, conf, topic, group, 2*partitions, fail, "groupSecondRun")

	// Admin: configs (DescribeConfigs v0, AlterConfigs v0), partitions, groups, topic deletion.
	resource := sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms"}}
	if entries, err := admin.DescribeConfig(resource); err != nil {
		fail("describeConfigBefore", err)
	} else if len(entries) == 1 {
		r.RetentionBefore, r.RetentionBeforeDefault = entries[0].Value, entries[0].Default
	}
	retention := "3600000"
	if err := admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": &retention}, false); err != nil {
		fail("alterConfig", err)
	}
	if entries, err := admin.DescribeConfig(resource); err != nil {
		fail("describeConfigAfter", err)
	} else if len(entries) == 1 {
		r.RetentionAfter, r.RetentionAfterDefault = entries[0].Value, entries[0].Default
	}
	if err := admin.CreatePartitions(topic, partitions+1, nil, false); err != nil {
		fail("createPartitions", err)
	}
	if metadata, err := admin.DescribeTopics([]string{topic}); err != nil {
		fail("describeTopics", err)
	} else if len(metadata) == 1 {
		r.PartitionsAfterCreate = len(metadata[0].Partitions)
	}
	r.GroupsListed = listGroups(admin, fail, "listGroups")
	if groups, err := admin.DescribeConsumerGroups([]string{group}); err != nil {
		fail("describeGroups", err)
	} else if len(groups) == 1 {
		r.GroupState = groups[0].State
	}
	deleteGroup(bootstrap, conf, group, fail)
	r.GroupsAfterDelete = listGroups(admin, fail, "listGroupsAfterDelete")
	if err := admin.DeleteTopic(topic); err != nil {
		fail("deleteTopic", err)
	}
	if topics, err := admin.ListTopics(); err != nil {
		fail("listTopics", err)
	} else {
		_, r.TopicListedAfterDelete = topics[topic]
	}
	emit(r)
}

func emit(r *report) {
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func consumeAll(bootstrap []string, conf *sarama.Config, topic string, want int, fail func(string, error)) []string {
	consumer, err := sarama.NewConsumer(bootstrap, conf)
	if err != nil {
		fail("consumer", err)
		return nil
	}
	defer consumer.Close()
	values := []string{}
	for p := int32(0); p < partitions; p++ {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			fail("consumePartition", err)
			return values
		}
		deadline := time.After(15 * time.Second)
	read:
		for count := 0; count < want/partitions; count++ {
			select {
			case msg := <-pc.Messages():
				values = append(values, string(msg.Value))
			case err := <-pc.Errors():
				fail("consume", err)
				break read
			case <-deadline:
				fail("consume", fmt.Errorf("partition %d: timed out after %d messages", p, count))
				break read
			}
		}
		pc.Close()
	}
	return values
}

type groupHandler struct {
	mu     sync.Mutex
	values []string
	seen   chan struct{}
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *groupHandler) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.mu.Lock()
		h.values = append(h.values, string(msg.Value))
		h.mu.Unlock()
		session.MarkMessage(msg, "")
		select {
		case h.seen <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h *groupHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.values)
}

// consumeGroup runs one member until it has `want` messages and nothing more arrives for a second (so
// re-deliveries would be seen), then closes it, which commits the marked offsets.
func consumeGroup(bootstrap []string, conf *sarama.Config, topic, group string, want int, fail func(string, error), step string) []string {
	cg, err := sarama.NewConsumerGroup(bootstrap, group, conf)
	if err != nil {
		fail(step, err)
		return nil
	}
	handler := &groupHandler{seen: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, handler); err != nil {
				fail(step, err)
				return
			}
		}
	}()
	go func() {
		for err := range cg.Errors() {
			fail(step+"Errors", err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-handler.seen:
			quietSince = time.Now()
		case <-time.After(100 * time.Millisecond):
		}
		if handler.count() >= want && time.Since(quietSince) > time.Second {
			break
		}
	}
	if handler.count() < want {
		fail(step, fmt.Errorf("timed out with %d of %d messages", handler.count(), want))
	}
	// Let the 200 ms commit interval pass so that the commits go out while the session is live, too.
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	if err := cg.Close(); err != nil {
		fail(step+"Close", err)
	}
	handler.mu.Lock()
	defer handler.mu.Unlock()
	sort.Strings(handler.values)
	return handler.values
}

func listGroups(admin sarama.ClusterAdmin, fail func(string, error), step string) []string {
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		fail(step, err)
		return nil
	}
	names := []string{}
	for name := range groups {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// deleteGroup sends DeleteGroups v0 to the group's coordinator (sarama 1.22's ClusterAdmin has no call for it).
func deleteGroup(bootstrap []string, conf *sarama.Config, group string, fail func(string, error)) {
	client, err := sarama.NewClient(bootstrap, conf)
	if err != nil {
		fail("deleteGroup", err)
		return
	}
	defer client.Close()
	coordinator, err := client.Coordinator(group)
	if err != nil {
		fail("deleteGroup", err)
		return
	}
	response, err := coordinator.DeleteGroups(&sarama.DeleteGroupsRequest{Groups: []string{group}})
	if err != nil {
		fail("deleteGroup", err)
		return
	}
	if code := response.GroupErrorCodes[group]; code != sarama.ErrNoError {
		fail("deleteGroup", code)
	}
}
