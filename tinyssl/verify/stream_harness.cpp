// Generic AXI-stream harness for a Verilated design made of independent stream lanes.
//
// The design is tinyssl's generated top `tinyssl_sim_top`: ap_clk, ap_rst_n and, for L lanes of
// W bits each (W a multiple of 32), in_TDATA[L*W-1:0], in_TVALID[L-1:0], in_TREADY[L-1:0] and
// the same for out_*. Each lane is one FINN layer or one stitched chain of layers; all lanes run
// at once and never interact, so each lane's cycle counts are its own. One harness therefore
// serves every layer type, every chain and every model. Stream words are read from and written
// to text files, one word per line in hexadecimal.
//
// usage: sim MANIFEST MAX_IDLE_CYCLES STALL_PERCENT SEED
//   MANIFEST: first line "LANES LIMBS_PER_LANE", then per lane
//             "IN_FILE OUT_FILE WORDS_OUT_PER_IMAGE IMAGES"
// writes OUT_FILE (output words) and OUT_FILE.done (the cycle each image's last word left);
// prints "cycles N" and per lane "violations N": cycles on which an output withdrew TVALID or
// changed TDATA before TREADY took it (AXI-stream forbids both). STALL_PERCENT > 0 drops TVALID on inputs and TREADY on outputs at random
// cycles, to check the design honours valid/ready (its output must not change).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "Vtinyssl_sim_top.h"
#include "verilated.h"

using Word = std::vector<uint32_t>;  // little-endian 32-bit limbs

static Word parse_hex(const std::string& s, size_t limbs) {
  Word w(limbs, 0);
  size_t i = 0;
  for (int end = static_cast<int>(s.size()); end > 0 && i < limbs; end -= 8, ++i) {
    int begin = end > 8 ? end - 8 : 0;
    w[i] = static_cast<uint32_t>(std::stoul(s.substr(begin, end - begin), nullptr, 16));
  }
  return w;
}

static std::string format_hex(const uint32_t* limbs, size_t n) {
  std::string s;
  char buf[9];
  for (size_t i = n; i-- > 0;) {
    std::snprintf(buf, sizeof buf, "%08x", limbs[i]);
    s += buf;
  }
  return s;
}

// Verilator ports are CData/SData/IData/QData up to 64 bits and VlWide<N> above.
template <typename T>
static void put(T& port, const Word& w) {
  uint64_t v = 0;
  for (size_t i = 0; i < w.size() && i < 2; ++i) v |= static_cast<uint64_t>(w[i]) << (32 * i);
  port = static_cast<T>(v);
}
template <std::size_t N>
static void put(VlWide<N>& port, const Word& w) {
  for (std::size_t i = 0; i < N; ++i) port[i] = i < w.size() ? w[i] : 0;
}
template <typename T>
static Word get(const T& port, size_t limbs) {
  uint64_t v = static_cast<uint64_t>(port);
  Word w(limbs < 2 ? 2 : limbs, 0);
  w[0] = static_cast<uint32_t>(v);
  w[1] = static_cast<uint32_t>(v >> 32);
  return w;
}
template <std::size_t N>
static Word get(const VlWide<N>& port, size_t limbs) {
  Word w(limbs > N ? limbs : N, 0);
  for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
  return w;
}
static bool bit(const Word& w, size_t i) { return (w[i / 32] >> (i % 32)) & 1u; }
static void set_bit(Word& w, size_t i, bool v) {
  if (v) w[i / 32] |= 1u << (i % 32);
}

struct Lane {
  std::vector<Word> in;
  std::ofstream out, done;
  uint64_t want = 0, per_image = 0, got = 0, violations = 0;
  size_t sent = 0;
  bool pending = false;  // TVALID was high without TREADY: it must stay, TDATA unchanged
  Word pending_data;
};

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: sim MANIFEST MAX_IDLE_CYCLES STALL_PERCENT SEED\n";
    return 2;
  }
  std::ifstream manifest(argv[1]);
  size_t lanes = 0, limbs = 0;
  manifest >> lanes >> limbs;
  std::vector<std::unique_ptr<Lane>> lane;
  for (size_t l = 0; l < lanes; ++l) {
    std::string in_file, out_file;
    auto ln = std::make_unique<Lane>();
    uint64_t images = 0;
    manifest >> in_file >> out_file >> ln->per_image >> images;
    ln->want = ln->per_image * images;
    std::ifstream fin(in_file);
    for (std::string line; std::getline(fin, line);)
      if (!line.empty()) ln->in.push_back(parse_hex(line, limbs));
    ln->out.open(out_file);
    ln->done.open(out_file + ".done");
    lane.push_back(std::move(ln));
  }
  const uint64_t max_idle = std::stoull(argv[2]);
  const int stall = std::atoi(argv[3]);
  std::srand(static_cast<unsigned>(std::atoi(argv[4])));

  VerilatedContext ctx;
  Vtinyssl_sim_top top{&ctx};
  const size_t bus = lanes * limbs, flags = (lanes + 31) / 32;
  auto tick = [&]() {
    top.ap_clk = 0;
    top.eval();
    top.ap_clk = 1;
    top.eval();
  };
  top.ap_rst_n = 0;
  put(top.in_TVALID, Word(flags, 0));
  put(top.out_TREADY, Word(flags, 0));
  for (int i = 0; i < 16; ++i) tick();
  top.ap_rst_n = 1;
  tick();

  uint64_t cycle = 0, idle = 0;
  auto finished = [&]() {
    for (auto& ln : lane)
      if (ln->got < ln->want) return false;
    return true;
  };
  while (!finished() && idle < max_idle) {
    // drive this cycle's inputs on the low phase, sample the handshakes before the rising edge
    top.ap_clk = 0;
    Word data(bus, 0), valid(flags, 0), ready(flags, 0);
    for (size_t l = 0; l < lanes; ++l) {
      Lane& ln = *lane[l];
      const bool offer = ln.sent < ln.in.size() && (stall == 0 || std::rand() % 100 >= stall);
      set_bit(valid, l, offer);
      for (size_t i = 0; i < limbs; ++i)  // TDATA without TVALID is noise, when stalling
        data[l * limbs + i] = offer ? ln.in[ln.sent][i] : stall ? std::rand() : 0;
      set_bit(ready, l, stall == 0 || std::rand() % 100 >= stall);
    }
    put(top.in_TDATA, data);
    put(top.in_TVALID, valid);
    put(top.out_TREADY, ready);
    top.eval();
    const Word in_ready = get(top.in_TREADY, flags), out_valid = get(top.out_TVALID, flags);
    const Word out_data = get(top.out_TDATA, bus);
    bool moved = false;
    std::vector<bool> in_fire(lanes);
    for (size_t l = 0; l < lanes; ++l) {
      Lane& ln = *lane[l];
      in_fire[l] = bit(valid, l) && bit(in_ready, l);
      const Word word(out_data.begin() + l * limbs, out_data.begin() + (l + 1) * limbs);
      if (ln.pending && (!bit(out_valid, l) || word != ln.pending_data)) ++ln.violations;
      ln.pending = bit(out_valid, l) && !bit(ready, l);
      if (ln.pending) ln.pending_data = word;
      if (bit(ready, l) && bit(out_valid, l) && ln.got < ln.want) {
        ln.out << format_hex(&out_data[l * limbs], limbs) << "\n";
        if (++ln.got % ln.per_image == 0) ln.done << cycle << "\n";
        moved = true;
      }
      moved = moved || in_fire[l];
    }
    top.ap_clk = 1;
    top.eval();
    for (size_t l = 0; l < lanes; ++l)
      if (in_fire[l]) ++lane[l]->sent;
    ++cycle;
    idle = moved ? 0 : idle + 1;
  }
  top.final();
  std::cout << "cycles " << cycle << "\n";
  for (size_t l = 0; l < lanes; ++l) std::cout << "violations " << lane[l]->violations << "\n";
  return finished() ? 0 : 3;
}
