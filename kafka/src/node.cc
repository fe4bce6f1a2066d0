#include "veeduria/kafka/node.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "client.h"
#include "decider_state.h"
#include "veeduria/consumers/projector.h"
#include "veeduria/events/command.h"
#include "veeduria/events/render.h"
#include "veeduria/events/state.h"
#include "veeduria/kafka/kafka_log.h"

namespace veeduria::kafka {
namespace {

using internal::FromKafka;
using internal::FromKafkaError;
using internal::Handle;
using Clock = std::chrono::steady_clock;

// Offsets of delivered messages, per topic and partition (the producer's delivery reports).
struct Deliveries {
  std::map<std::pair<std::string, int32_t>, int64_t> last;  // highest delivered offset
  int failed = 0;
  void Clear() {
    last.clear();
    failed = 0;
  }
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Deliveries*>(opaque);
  if (m->err) {
    ++d->failed;
    return;
  }
  auto key = std::make_pair(std::string(rd_kafka_topic_name(m->rkt)), m->partition);
  auto it = d->last.find(key);
  if (it == d->last.end() || it->second < m->offset) d->last[key] = m->offset;
}

struct CommandMsg {
  int64_t offset = 0;
  std::string key, value;
  int64_t timestamp_ms = 0;
  uint64_t directory_token = 0;  // header vd-dir: the directory seq the submitter has seen
  std::string request;           // header vd-req: echoed in the outcome (the submitter's handle)
  std::string authenticated;     // header vd-auth: the sender a front end authenticated ("" none)
};

struct Outgoing {
  std::string topic;
  int32_t partition;
  std::string key, value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// One assigned commands partition.
struct PartitionCtx {
  uint32_t partition = 0;
  Handle producer;
  std::unique_ptr<Deliveries> deliveries = std::make_unique<Deliveries>();
  std::unique_ptr<internal::PartitionState> state;
  bool paused = false;  // stopped on a fork or corruption until an operator acts
  // End offsets of what aborted transactions of this partition wrote (events, directory): a
  // later catch-up past them read aborted messages (the mock's missing read_committed).
  std::map<std::string, int64_t> aborted_upto;
};

struct KilledError {};

}  // namespace

struct KafkaNode::Impl {
  KafkaConfig config;
  NodeOptions options;
  uint32_t partitions = 1;
  std::unique_ptr<internal::DeciderDb> decider_db;
  std::unique_ptr<projections::ProjectionStore> store;
  std::unique_ptr<KafkaLog> log;
  Handle group;   // the deciders' consumer group member
  Handle reader;  // reads events and directory for the deciders' catch-up
  std::map<uint32_t, std::unique_ptr<PartitionCtx>> assigned;  // used only by the decider thread
  uint64_t transaction_no = 0;

  std::atomic<bool> stop{false};
  std::thread decider_thread, projector_thread;
  mutable std::mutex mu;  // stats
  NodeStats st;           // GUARDED_BY(mu)
  mutable std::mutex store_mu;
  std::condition_variable_any projected_cv;
  // The directory's decider state, folded from what the projectors applied (DirectoryRecord).
  mutable std::mutex dir_mu;
  events::MemoryState dir_state;  // GUARDED_BY(dir_mu)
  uint64_t dir_next = 0;          // GUARDED_BY(dir_mu): next directory offset to fold
  uint64_t dir_seq = 0;           // GUARDED_BY(dir_mu): last directory stream_seq folded
  bool stopped = false;

  void Error(const std::string& e) {
    std::lock_guard<std::mutex> l(mu);
    st.last_error = e;
  }
  template <typename F>
  void Stat(F f) {
    std::lock_guard<std::mutex> l(mu);
    f(st);
  }

  std::string TxnId(uint32_t p) const { return config.topic_prefix + "decider-" + std::to_string(p); }

  // ---- deciders ------------------------------------------------------------------------------

  static void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                        void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      // Start each partition at what this node's state reflects or the group's committed offset,
      // whichever is further (the mock stores no transactional offsets; a real cluster does).
      rd_kafka_committed(rk, parts, self->config.Ms(10000));
      for (int i = 0; i < parts->cnt; ++i) {
        const uint32_t p = static_cast<uint32_t>(parts->elems[i].partition);
        auto ctx = std::make_unique<PartitionCtx>();
        ctx->partition = p;
        ctx->state = std::make_unique<internal::PartitionState>(self->decider_db.get(), p);
        const int64_t local = static_cast<int64_t>(ctx->state->offset('c'));
        const int64_t committed = parts->elems[i].offset;
        parts->elems[i].offset = std::max<int64_t>(local, committed >= 0 ? committed : 0);
        self->assigned[p] = std::move(ctx);
      }
      rd_kafka_assign(rk, parts);
    } else {
      for (int i = 0; i < parts->cnt; ++i)
        self->assigned.erase(static_cast<uint32_t>(parts->elems[i].partition));
      rd_kafka_assign(rk, nullptr);
    }
    std::vector<uint32_t> now;
    for (const auto& [p, ctx] : self->assigned) now.push_back(p);
    self->Stat([&](NodeStats& s) { s.assigned = now; });
  }

  Status EnsureProducer(PartitionCtx& ctx) {
    if (ctx.producer) return Status::Ok();
    ctx.deliveries->Clear();
    Deliveries* d = ctx.deliveries.get();
    auto p = internal::NewClient(RD_KAFKA_PRODUCER, config,
                                 {{"transactional.id", TxnId(ctx.partition)},
                                  {"enable.idempotence", "true"},
                                  {"acks", "all"},
                                  {"partitioner", "murmur2_random"},
                                  {"linger.ms", "1"},
                                  {"transaction.timeout.ms", std::to_string(config.Ms(60000))},
                                  {"message.timeout.ms", std::to_string(config.Ms(60000) - 1)}},
                                 [d](rd_kafka_conf_t* conf) {
                                   rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
                                   rd_kafka_conf_set_opaque(conf, d);
                                 });
    if (!p.ok()) return p.status();
    // Fences any earlier producer with this transactional.id (a zombie) on a real cluster.
    Status init;
    const auto deadline = Clock::now() + std::chrono::milliseconds(config.Ms(30000));
    do {
      init = FromKafkaError(rd_kafka_init_transactions(p->get(), config.Ms(10000)), "init_transactions");
    } while (init.code() == StatusCode::kUnavailable && Clock::now() < deadline && !stop);
    if (!init.ok()) return init;
    ctx.producer = std::move(*p);
    return Status::Ok();
  }

  // Reads events partition p and the directory to their end into the partition's state, then,
  // if the batch needs a directory the state has not seen yet (`token`), waits for it.
  Status CatchUpPartition(PartitionCtx& ctx, uint64_t token) {
    uint64_t evolved = 0;
    const int t = config.Ms(30000);
    VEEDURIA_RETURN_IF_ERROR(internal::CatchUpTopic(reader.get(), config.Topic(kEvents),
                                                    static_cast<int32_t>(ctx.partition), 'e', *ctx.state, t,
                                                    &evolved));
    const auto deadline = Clock::now() + std::chrono::milliseconds(config.Ms(10000));
    for (;;) {
      VEEDURIA_RETURN_IF_ERROR(
          internal::CatchUpTopic(reader.get(), config.Topic(kDirectory), 0, 'd', *ctx.state, t, &evolved));
      auto h = ctx.state->head(std::string(events::kDirectoryStream));
      if ((h ? h->first : 0) >= token || Clock::now() > deadline || stop) break;
      // The directory event the submitter saw is not readable yet (a real cluster's last stable
      // offset moves after the commit markers): wait for it.
      rd_kafka_poll(reader.get(), 10);
    }
    uint64_t seen = 0;
    for (auto it = ctx.aborted_upto.begin(); it != ctx.aborted_upto.end();) {
      const char which = it->first == config.Topic(kDirectory) ? 'd' : 'e';
      if (static_cast<int64_t>(ctx.state->offset(which)) >= it->second) {
        ++seen;
        it = ctx.aborted_upto.erase(it);
      } else {
        ++it;
      }
    }
    Status c = ctx.state->Commit();
    Stat([&](NodeStats& s) {
      s.caught_up_events += evolved;
      s.aborted_seen += seen;
    });
    return c;
  }

  // Decides the batch against the state (evolving it) and lists the messages to produce.
  std::vector<Outgoing> Decide(PartitionCtx& ctx, const std::vector<CommandMsg>& batch) {
    std::vector<Outgoing> out;
    const uint32_t dir_home = PartitionOfKey(events::kDirectoryStream, partitions);
    for (const CommandMsg& c : batch) {
      nlohmann::json o;
      events::ParsedLine parsed = events::ParseCommand(c.value, 0);
      if (c.offset < static_cast<int64_t>(ctx.state->offset('c'))) {
        // A re-delivered message (the mock stores no transactional offsets; a transaction whose
        // messages were read though it aborted): decided before, its first outcome stands.
        o = {{"command_id", parsed.command ? parsed.command->command_id : ""},
             {"status", "duplicate"},
             {"reason", ""},
             {"field", ""},
             {"message", "commands offset " + std::to_string(c.offset) + " of partition " +
                             std::to_string(ctx.partition) + " was decided before (a re-delivery)"},
             {"events", nlohmann::json::array()},
             {"flags", nlohmann::json::array()}};
      } else if (!parsed.command) {
        auto j = nlohmann::json::parse(c.value, nullptr, false);
        o = {{"command_id", j.is_object() && j.contains("command_id") && j["command_id"].is_string()
                                ? j["command_id"].get<std::string>()
                                : ""},
             {"status", "invalid"},
             {"reason", parsed.error ? parsed.error->reason : "bad_json"},
             {"field", parsed.error ? parsed.error->field : ""},
             {"message", parsed.error ? parsed.error->message : "not a command"},
             {"events", nlohmann::json::array()},
             {"flags", nlohmann::json::array()}};
      } else {
        events::Command& cmd = *parsed.command;
        // The sender the HTTP API authenticated (its token's user): Decide refuses the command,
        // recorded, when its actor is anyone else, as the embedded ledger does.
        cmd.authenticated_actor = c.authenticated;
        // The ledger's clock on Kafka is the commands topic's timestamp (DESIGN §2.2).
        events::Decision d = events::Decide(ctx.state->overlay(), cmd, c.timestamp_ms * 1000);
        bool misrouted = false;
        for (const auto& se : d.events) {
          const bool dir = se.stream == events::kDirectoryStream;
          if ((dir && ctx.partition != dir_home) ||
              (!dir && PartitionOfKey(se.stream, partitions) != ctx.partition))
            misrouted = true;
        }
        if (misrouted) {
          o = {{"command_id", cmd.command_id},
               {"status", "invalid"},
               {"reason", "wrong_partition"},
               {"field", ""},
               {"message", "the command reached commands partition " + std::to_string(ctx.partition) +
                               ", which does not own the stream it writes; submit it keyed by its stream"},
               {"events", nlohmann::json::array()},
               {"flags", nlohmann::json::array()}};
        } else {
          for (size_t i = 0; i < d.events.size(); ++i) {
            const auto& se = d.events[i];
            ctx.state->Evolve(se);
            const bool dir = se.stream == events::kDirectoryStream;
            out.push_back({config.Topic(dir ? kDirectory : kEvents),
                           dir ? 0 : static_cast<int32_t>(ctx.partition),
                           se.stream,
                           se.bytes,
                           {{"vd-cmd", cmd.command_id},
                            {"vd-i", std::to_string(i)},
                            {"vd-n", std::to_string(d.events.size())},
                            {"vd-cpart", std::to_string(ctx.partition)},
                            {"vd-coff", std::to_string(c.offset)}}});
          }
          o = {{"command_id", cmd.command_id},
               {"status", events::OutcomeName(d.outcome)},
               {"reason", d.reason},
               {"field", d.field},
               {"message", d.message},
               {"events", d.event_ids},
               {"flags", d.flags},
               {"days_late", d.days_late},
               {"stream", d.events.empty() ? "" : d.events.front().stream}};
        }
      }
      auto h = ctx.state->head(std::string(events::kDirectoryStream));
      o["directory_seq"] = h ? h->first : 0;
      o["partition"] = ctx.partition;
      o["request"] = c.request;
      out.push_back({config.Topic(kOutcomes), static_cast<int32_t>(ctx.partition), c.key, o.dump(), {}});
      ctx.state->set_offset('c', std::max(ctx.state->offset('c'), static_cast<uint64_t>(c.offset) + 1));
    }
    return out;
  }

  Status Produce(rd_kafka_t* rk, const Outgoing& m) {
    for (;;) {
      rd_kafka_headers_t* hdrs = rd_kafka_headers_new(m.headers.size());
      for (const auto& [k, v] : m.headers) rd_kafka_header_add(hdrs, k.c_str(), -1, v.data(), v.size());
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(m.topic.c_str()), RD_KAFKA_V_PARTITION(m.partition),
          RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
      rd_kafka_headers_destroy(hdrs);
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) return FromKafka(e, "producing to " + m.topic);
      rd_kafka_poll(rk, 10);  // the local queue is full: serve delivery reports, then retry
    }
  }

  // One batch of one partition, in one transaction; retried until it commits (see node.h).
  Status Transact(PartitionCtx& ctx, const std::vector<CommandMsg>& batch) {
    uint64_t token = 0;
    for (const auto& c : batch) token = std::max(token, c.directory_token);
    const auto deadline = Clock::now() + std::chrono::milliseconds(config.Ms(120000));
    Status last;
    while (!stop) {
      if (Clock::now() > deadline)
        return Status::Unavailable("partition " + std::to_string(ctx.partition) +
                                   ": no transaction committed in time: " + last.ToString());
      last = EnsureProducer(ctx);
      if (!last.ok()) {
        if (last.code() == StatusCode::kFailedPrecondition) ctx.producer.reset();
        continue;
      }
      last = CatchUpPartition(ctx, token);
      if (!last.ok()) {
        if (last.code() == StatusCode::kCorruption) return last;
        continue;
      }
      std::vector<Outgoing> out = Decide(ctx, batch);
      rd_kafka_t* rk = ctx.producer.get();
      ctx.deliveries->Clear();
      last = FromKafkaError(rd_kafka_begin_transaction(rk), "begin_transaction");
      for (size_t i = 0; last.ok() && i < out.size(); ++i) last = Produce(rk, out[i]);
      if (last.ok()) {
        rd_kafka_topic_partition_list_t* offs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(offs, config.Topic(kCommands).c_str(),
                                          static_cast<int32_t>(ctx.partition))
            ->offset = batch.back().offset + 1;
        rd_kafka_consumer_group_metadata_t* md = rd_kafka_consumer_group_metadata(group.get());
        last = FromKafkaError(rd_kafka_send_offsets_to_transaction(rk, offs, md, config.Ms(30000)),
                              "send_offsets_to_transaction");
        rd_kafka_consumer_group_metadata_destroy(md);
        rd_kafka_topic_partition_list_destroy(offs);
      }
      const uint64_t txn = ++transaction_no;
      if (last.ok() && options.kill_before_commit && options.kill_before_commit(ctx.partition, txn)) {
        rd_kafka_flush(rk, config.Ms(10000));  // what it produced reaches the brokers, uncommitted
        Stat([](NodeStats& s) { s.killed = true; });
        throw KilledError{};
      }
      if (last.ok() && options.abort_before_commit && options.abort_before_commit(ctx.partition, txn)) {
        rd_kafka_flush(rk, config.Ms(10000));
        last = Status(StatusCode::kAborted, "abort injected by the test");
      }
      if (last.ok()) {
        do {
          last = FromKafkaError(rd_kafka_commit_transaction(rk, config.Ms(30000)), "commit_transaction");
        } while (last.code() == StatusCode::kUnavailable && Clock::now() < deadline && !stop);
      }
      if (last.ok() && ctx.deliveries->failed == 0) break;
      // Not committed: drop the decisions; abort if the transaction is still open, or start a
      // new producer after a fatal error (fenced); then catch up and decide again.
      ctx.state->Discard();
      if (last.code() == StatusCode::kFailedPrecondition) {
        ctx.producer.reset();
        Stat([](NodeStats& s) { ++s.fenced; });
      } else {
        for (const auto& [tp, off] : ctx.deliveries->last)
          if (tp.first != config.Topic(kOutcomes))
            ctx.aborted_upto[tp.first] = std::max(ctx.aborted_upto[tp.first], off + 1);
        Status abort = FromKafkaError(rd_kafka_abort_transaction(rk, config.Ms(30000)), "abort_transaction");
        if (!abort.ok()) ctx.producer.reset();
        Stat([](NodeStats& s) { ++s.aborted; });
      }
    }
    if (stop) return Status::Unavailable("stopping");
    rd_kafka_poll(ctx.producer.get(), 0);
    for (const auto& [tp, off] : ctx.deliveries->last) {
      if (tp.first == config.Topic(kEvents) && tp.second == static_cast<int32_t>(ctx.partition))
        ctx.state->set_offset('e', static_cast<uint64_t>(off) + 1);
      if (tp.first == config.Topic(kDirectory)) ctx.state->set_offset('d', static_cast<uint64_t>(off) + 1);
    }
    ctx.state->set_offset('c',
                          std::max(ctx.state->offset('c'), static_cast<uint64_t>(batch.back().offset) + 1));
    VEEDURIA_RETURN_IF_ERROR(ctx.state->Commit());
    Stat([&](NodeStats& s) {
      s.commands += batch.size();
      ++s.transactions;
    });
    return Status::Ok();
  }

  void DeciderLoop() {
    try {
      while (!stop) {
        std::map<uint32_t, std::vector<CommandMsg>> batches;
        size_t n = 0;
        int timeout = 100;
        while (n < options.max_batch) {
          rd_kafka_message_t* m = rd_kafka_consumer_poll(group.get(), timeout);
          if (!m) break;
          timeout = 0;
          if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            CommandMsg c;
            c.offset = m->offset;
            if (m->key) c.key.assign(static_cast<const char*>(m->key), m->key_len);
            if (m->payload) c.value.assign(static_cast<const char*>(m->payload), m->len);
            rd_kafka_timestamp_type_t tt;
            c.timestamp_ms = rd_kafka_message_timestamp(m, &tt);
            c.directory_token = std::strtoull(internal::Header(m, "vd-dir").c_str(), nullptr, 10);
            c.request = internal::Header(m, "vd-req");
            c.authenticated = internal::Header(m, "vd-auth");
            batches[static_cast<uint32_t>(m->partition)].push_back(std::move(c));
            ++n;
          }
          rd_kafka_message_destroy(m);
        }
        for (auto& [p, batch] : batches) {
          auto it = assigned.find(p);
          if (it == assigned.end() || it->second->paused) continue;  // revoked meanwhile
          Status s = Transact(*it->second, batch);
          if (s.ok()) continue;
          Error("decider of partition " + std::to_string(p) + ": " + s.ToString());
          // Nothing of the batch was committed: read it again.
          rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
          rd_kafka_topic_partition_list_add(l, config.Topic(kCommands).c_str(), static_cast<int32_t>(p))
              ->offset = batch.front().offset;
          rd_kafka_seek_partitions(group.get(), l, config.Ms(10000));
          if (s.code() == StatusCode::kCorruption) {
            it->second->paused = true;  // a fork: stop this partition until an operator acts
            rd_kafka_pause_partitions(group.get(), l);
          }
          rd_kafka_topic_partition_list_destroy(l);
        }
      }
    } catch (const KilledError&) {
      // The process "died": nothing more is decided, nothing committed or aborted.
    } catch (const std::exception& e) {
      Error(std::string("decider: ") + e.what());
    }
  }

  // ---- projectors ----------------------------------------------------------------------------

  // Folds the directory events below offset `upto` (applied, so checked, by the projectors)
  // into dir_state, skipping exact re-deliveries.
  void FoldDirectory(uint64_t upto) {
    std::lock_guard<std::mutex> l(dir_mu);
    if (upto <= dir_next) return;
    Status s = log->ScanPartition(events::kDirectoryTopic, 0, dir_next, [&](const events::LogEntry& e) {
      if (e.position.offset >= upto) return false;
      dir_next = e.position.offset + 1;
      if (!events::VerifyEventBytes(e.bytes)) return true;  // the projector refused it already
      events::SealedEvent se = events::DescribeEvent(e.bytes, e.hash);
      if (se.stream_seq != dir_seq + 1) return true;  // a re-delivery (a gap stops the projector)
      events::Evolve(dir_state, se);
      dir_seq = se.stream_seq;
      return true;
    });
    if (!s.ok()) Error("directory fold: " + s.ToString());
  }

  void ProjectorLoop() {
    while (!stop) {
      uint64_t applied = 0;
      uint64_t lag = 0;
      std::vector<PartitionLag> lags;
      {
        std::lock_guard<std::mutex> l(store_mu);
        auto r = consumers::CatchUp(*log, *store, 4096);
        if (!r.ok()) {
          Error("projector: " + r.status().ToString());
          if (r.status().code() == StatusCode::kCorruption) Stat([](NodeStats& s) { s.chain_broken = true; });
        } else {
          applied = r->events;
        }
        for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic})
          for (uint32_t p = 0; p < log->partitions(topic); ++p)
            if (auto end = log->EndOffset(topic, p); end.ok()) {
              const uint64_t next = store->NextOffset(topic, p);
              const uint64_t behind = *end > next ? *end - next : 0;
              lag += behind;
              lags.push_back({std::string(topic), p, behind});
            }
        FoldDirectory(store->NextOffset(events::kDirectoryTopic, 0));
      }
      Stat([&](NodeStats& s) {
        s.projected += applied;
        s.lag = lag;
        s.lags = std::move(lags);
        s.projector_looked = true;
      });
      projected_cv.notify_all();
      if (applied == 0) {
        std::unique_lock<std::mutex> l(store_mu);
        projected_cv.wait_for(l, std::chrono::milliseconds(20), [&] { return stop.load(); });
      }
    }
  }
};

KafkaNode::KafkaNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaNode::~KafkaNode() { Stop(); }

Result<std::unique_ptr<KafkaNode>> KafkaNode::Start(const KafkaConfig& config, NodeOptions options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("a Kafka node needs a data directory");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = std::move(options);
  auto log = KafkaLog::Open(config);
  if (!log.ok()) return log.status();
  impl->log = std::move(*log);
  impl->partitions = impl->log->partitions(events::kEventsTopic);
  Impl* raw = impl.get();
  if (impl->options.run_projectors) {
    auto s = projections::ProjectionStore::Open(impl->options.data_dir);
    if (!s.ok()) return s.status();
    impl->store = std::move(*s);
    // Marks DATA as a Kafka node's (the query commands read its projections without a log).
    const std::string marker = impl->options.data_dir + "/kafka-node.json";
    std::ofstream out(marker + ".tmp", std::ios::trunc);
    out << nlohmann::json{{"backend", "kafka"},
                          {"brokers", config.brokers},
                          {"topic_prefix", config.topic_prefix},
                          {"partitions", impl->partitions}}
               .dump()
        << "\n";
    out.close();
    if (!out || std::rename((marker + ".tmp").c_str(), marker.c_str()) != 0)
      return Status::IOError("cannot write " + marker);
  }
  if (impl->options.run_deciders) {
    auto db = internal::DeciderDb::Open(impl->options.data_dir + "/kafka-decider");
    if (!db.ok()) return db.status();
    impl->decider_db = std::move(*db);
    auto reader = internal::NewClient(RD_KAFKA_CONSUMER, config, internal::ReaderSettings(config));
    if (!reader.ok()) return reader.status();
    impl->reader = std::move(*reader);
    auto g = internal::NewClient(RD_KAFKA_CONSUMER, config,
                                 {{"group.id", impl->options.group},
                                  {"enable.auto.commit", "false"},
                                  {"isolation.level", "read_committed"},
                                  {"auto.offset.reset", "earliest"},
                                  {"partition.assignment.strategy", "range"},
                                  {"fetch.wait.max.ms", "10"},
                                  {"session.timeout.ms", std::to_string(config.Ms(6000))},
                                  {"heartbeat.interval.ms", "500"}},
                                 [raw](rd_kafka_conf_t* conf) {
                                   rd_kafka_conf_set_rebalance_cb(conf, Impl::Rebalance);
                                   rd_kafka_conf_set_opaque(conf, raw);
                                 });
    if (!g.ok()) return g.status();
    impl->group = std::move(*g);
    rd_kafka_poll_set_consumer(impl->group.get());
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, config.Topic(kCommands).c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(impl->group.get(), topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) return FromKafka(e, "subscribing to " + config.Topic(kCommands));
    impl->decider_thread = std::thread([raw] { raw->DeciderLoop(); });
  }
  if (impl->options.run_projectors) impl->projector_thread = std::thread([raw] { raw->ProjectorLoop(); });
  return std::unique_ptr<KafkaNode>(new KafkaNode(std::move(impl)));
}

void KafkaNode::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->stop = true;
  impl_->projected_cv.notify_all();
  if (impl_->decider_thread.joinable()) impl_->decider_thread.join();
  if (impl_->projector_thread.joinable()) impl_->projector_thread.join();
  if (impl_->group) {
    rd_kafka_consumer_close(impl_->group.get());  // leaves the group: its partitions move now
    impl_->assigned.clear();
    impl_->group.reset();
  }
}

NodeStats KafkaNode::stats() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->st;
}

Status KafkaNode::WaitProjected(std::chrono::milliseconds timeout) {
  if (!impl_->store) return Status::FailedPrecondition("this node runs no projectors");
  std::vector<std::tuple<std::string_view, uint32_t, uint64_t>> targets;
  for (std::string_view topic : {events::kDirectoryTopic, events::kEventsTopic})
    for (uint32_t p = 0; p < impl_->log->partitions(topic); ++p) {
      auto end = impl_->log->EndOffset(topic, p);
      if (!end.ok()) return end.status();
      targets.emplace_back(topic, p, *end);
    }
  const auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> l(impl_->store_mu);
  for (;;) {
    bool done = true;
    for (const auto& [topic, p, end] : targets)
      if (impl_->store->NextOffset(topic, p) < end) done = false;
    if (done) return Status::Ok();
    if (Clock::now() > deadline) {
      std::string e = stats().last_error;
      return Status::Unavailable("projections did not reach the end of the log in time" +
                                 (e.empty() ? std::string() : ": " + e));
    }
    impl_->projected_cv.wait_for(l, std::chrono::milliseconds(50));
  }
}

std::vector<std::pair<std::string, std::string>> KafkaNode::Digests() const {
  std::lock_guard<std::mutex> l(impl_->store_mu);
  return impl_->store ? impl_->store->Digests() : std::vector<std::pair<std::string, std::string>>{};
}

nlohmann::json KafkaNode::DirectoryRecord(const std::string& key) const {
  std::lock_guard<std::mutex> l(impl_->dir_mu);
  return events::ReadRecord(impl_->dir_state, key);
}

void KafkaNode::WithProjections(const std::function<void(const projections::ProjectionStore&)>& fn) const {
  std::lock_guard<std::mutex> l(impl_->store_mu);
  if (impl_->store) fn(*impl_->store);
}

}  // namespace veeduria::kafka
