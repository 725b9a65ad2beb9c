// The replica and its store's room (the replica's methods, like
// command_path.cpp): the margin kept for this node's own operations, and
// writing again without a restart once a full store has room.
//
// A store that filled turns read-only (node/store). After the replica has
// reloaded what is durable, it asks the store at every heartbeat, and at
// once when the map was grown (placemeshd on SIGHUP), whether a write fits
// again: a disk that was freed or a bigger map ends the read-only state.
//
// Records from peers are refused when what they would take (counted as
// limits::store_record_bytes_estimate each, with the peers' batches still
// waiting for the writer) leaves less than margin_bytes() in the map, so a
// peer's flood cannot take the last room this centre needs to record its own
// admissions; they are counted, and peers send them again.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "crdt/limits.hpp"
#include "node/replica.hpp"

namespace placemesh {

std::size_t Replica::margin_bytes() const {
  return std::max(limits::store_local_margin_min_bytes, store_->stats().map_bytes / limits::store_local_margin_divisor);
}

void Replica::update_room() {
  room_bytes_ = store_->room_bytes();
  // Once short, peers' records are taken again only when a whole frame of
  // them fits above the margin: near the edge, small pushes taken and large
  // answers refused in turn would say so in the log at every round.
  const std::size_t reserved = margin_bytes() + peer_bytes_in_flight_ +
                               (room_short_ ? limits::records_per_frame_max * limits::store_record_bytes_estimate : 0);
  set_room_short(room_bytes_ < reserved);
}

bool Replica::room_for_peers(std::size_t records) {
  // The room of batches taken but not yet committed is counted now: they
  // wait for the writer thread, and room_bytes_ does not know them yet.
  if (!room_short_ &&
      room_bytes_ >= margin_bytes() + peer_bytes_in_flight_ + records * limits::store_record_bytes_estimate)
    return true;
  set_room_short(true);
  refused_for_room_ += records;
  return false;
}

void Replica::set_room_short(bool short_now) {
  if (short_now == room_short_) return;
  room_short_ = short_now;
  if (short_now)
    spdlog::warn("store: {} KiB left in the map of {} MiB ({} KiB of it for records from peers not yet written), "
                 "near the {} KiB kept for this node's own operations: records from peers are refused until the "
                 "map is grown (store.map_size_mb)",
                 room_bytes_ >> 10, store_->stats().map_bytes >> 20, peer_bytes_in_flight_ >> 10,
                 margin_bytes() >> 10);
  else
    spdlog::info("store: {} KiB left in the map: records from peers are taken again", room_bytes_ >> 10);
}

void Replica::grow_store(std::size_t map_bytes) {
  wanted_map_bytes_ = std::max(wanted_map_bytes_, map_bytes);
  try_resume(true);  // a reload also asks a full store whether it has room again
}

void Replica::try_resume(bool probe) {
  if (failed_ || in_flight_ > 0) return;  // batch_done calls again when the last one is in
  const bool grow = wanted_map_bytes_ > store_->stats().map_bytes;
  if (!grow && (!probe || !store_->read_only())) return;
  if (!grow && store_->read_only_reason().code != Code::store_full) return;  // only a restart helps
  const bool was_read_only = store_->read_only();
  auto status = store_->resume(wanted_map_bytes_);
  update_room();
  if (status && was_read_only) {
    spdlog::warn("store: writable again ({} KiB left in the map of {} MiB)", room_bytes_ >> 10,
                 store_->stats().map_bytes >> 20);
    changed();  // status and health change
  } else if (!status && !resume_refusal_logged_) {
    spdlog::warn("store: still read-only: {}", status.error().message());
  }
  resume_refusal_logged_ = !status;
}

}  // namespace placemesh
