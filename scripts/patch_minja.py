#!/usr/bin/env python3
"""Patches the fetched minja.hpp (argument: its path) where untrusted chat templates could hurt the
server; each change is an exact text replacement that must apply once, so a different minja
version fails loudly instead of being served unpatched.

1. Linear tokenizing: consumeToken/consumeTokenGroups searched the whole rest of the template for a
   token that must start at the cursor, so 1000 sequential {% for %} blocks took seconds to parse.
   std::regex_constants::match_continuous anchors the search; the accepted matches are the same
   (position 0 was already required).
2. Bounded render depth: a self-recursive macro ({% macro f() %}{{ f() }}{% endmacro %}) or a
   recursive loop recursed until the stack overflowed and took the process down. Every level of
   rendering passes through TemplateNode::render, so a thread-local depth counter there turns it
   into an error. 200 levels is about 60 macro calls deep; real chat templates nest under 20 and
   take ~2 KB of stack per level (-O2; several times more under ASan), so 2 MB thread stacks hold.
3. A time budget: a template that loops for minutes ({% for i in range(10**8) %}) held a request
   thread (and at load, the load) that long. The caller sets minja::render_deadline for its thread;
   every node and expression checks it.
4. No crash on arithmetic or data a request can steer: integer / and % by zero (SIGFPE), and
   INT64_MIN / -1, now raise as Jinja does; `/` is Jinja's true division (it was integer division);
   printing a value nested deeper than 256 levels (or a list that contains itself) raises instead
   of recursing off the stack; range() is capped at 100000 items like jinja2's sandbox
   (jinja2.sandbox.MAX_RANGE) and string repetition at 16 MiB, which were memory bombs.
   The depth count misses recursion that never renders a node ({% macro f(x=f()) %}: a default
   argument that calls its own macro recurses in expression evaluation alone), so every node and
   expression also checks the stack itself: past 1 MiB below the address the caller recorded in
   minja::render_stack_base (half the smallest thread stack, 2 MiB) it raises.
   Sizes: a string, joined list, indented text, printed value or the output itself over 16 MiB
   (64 MiB for the output), or a list over 1,000,000 items, raises — a render that doubles a
   string per message, or joins 100000 items with a 100000-item separator, once took every byte of
   the machine's memory.
   Slices clamp their bounds as Python's do ('abc'[-10:], messages[5:1:-1]): they threw
   std::out_of_range with C++'s words, or read past the string's end.
   Review round 3: string slices with a huge step overflowed their index and read out of bounds
   (counted with overflow checks now); `==` on a list that contains itself recursed off the stack
   (stack-checked); a list or namespace that reaches itself is refused when built (minja's
   shared_ptr values leaked every such cycle, 16 MB a request with a large string in it); a render
   runs at most 50,000 loop iterations (a loop nesting a list 600,000 deep overflowed the stack
   when the list was freed); split('') looped forever and indent(5e9) allocated before any check;
   insert() past the end was undefined behaviour; a list index was cut to an int, so
   messages[4294967296] meant messages[0] (read as int64 and range-checked now, "list index out of
   range" as Python says).
   Review round 4: what one render builds is metered — every list item and object entry (64 bytes
   plus its string) and every string result — and a render past 256 MiB raises. A list literal of
   8000 copies of a 1 MB string took 2.3 GB within the time budget. split() counts its pieces
   before building them (16M empty pieces of a 16 MiB string took 2.5 GB).
5. An unknown filter is named ("unknown filter 'sum'"), not "Value is not callable: null".
6. One location per error: every Expression::evaluate and TemplateNode::render level appended the
   source location (with whole source lines) to the message and rethrew, so a deep failure built a
   message quadratic in the depth. The innermost location is kept; outer levels rethrow as is.
"""
import sys

LOCATED = '''
// Sightline patch: an error that already names its location is rethrown unchanged by outer levels.
struct located_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Sightline patch: how deep TemplateNode::render may nest on one thread (see patch_minja.py).
inline constexpr int kMaxRenderDepth = 200;
inline thread_local int render_depth = 0;
// Sightline patch: loop iterations this render has run; the caller resets it (see patch_minja.py).
inline constexpr int64_t kMaxRenderIterations = 50000;
inline thread_local int64_t render_iterations = 0;
// Sightline patch: when rendering on this thread must stop (see patch_minja.py).
inline thread_local std::chrono::steady_clock::time_point render_deadline =
    std::chrono::steady_clock::time_point::max();
inline void check_render_deadline() {
    if (std::chrono::steady_clock::now() > render_deadline)
        throw std::runtime_error("template rendering ran past its time budget");
}
// Sightline patch: the stack the caller allows rendering on this thread (see patch_minja.py).
inline thread_local const char * render_stack_base = nullptr;
inline constexpr size_t kMaxRenderStackBytes = 1 << 20;
inline void check_render_stack() {
    const char here = 0;
    if (render_stack_base && render_stack_base > &here && size_t(render_stack_base - &here) > kMaxRenderStackBytes)
        throw std::runtime_error("template recursion is too deep (over 1 MiB of stack)");
}
// Sightline patch: the largest string or list a template may build (see patch_minja.py).
inline constexpr size_t kMaxValueBytes = 16 << 20;
inline constexpr size_t kMaxOutputBytes = 64 << 20;
inline constexpr size_t kMaxListItems = 1000000;
// Sightline patch: bytes this render has built; the caller resets it (see patch_minja.py).
inline constexpr size_t kMaxRenderBytes = size_t(256) << 20;
inline thread_local size_t render_bytes = 0;
inline void charge_render_bytes(size_t bytes) {
    render_bytes += bytes;
    if (render_bytes > kMaxRenderBytes) throw std::runtime_error("template built more than 256 MiB of values");
}
inline void check_value_bytes(size_t bytes) {
    if (bytes > kMaxValueBytes) throw std::runtime_error("template value over 16 MiB");
}
// A finished string result: within the value cap, and charged to the render.
inline void check_result_bytes(size_t bytes) {
    check_value_bytes(bytes);
    charge_render_bytes(bytes);
}

class Value : public std::enable_shared_from_this<Value> {'''

PATCHES = [
    ("std::regex_search(it, end, match, regex) && match.position() == 0",
     "std::regex_search(it, end, match, regex, std::regex_constants::match_continuous) && match.position() == 0",
     2),
    ("\nclass Value : public std::enable_shared_from_this<Value> {", LOCATED, 1),
    ('''            return do_evaluate(context);
        } catch (const std::exception & e) {
            std::ostringstream out;
            out << e.what();
            if (location.source) out << error_location_suffix(*location.source, location.pos);
            throw std::runtime_error(out.str());''',
     '''            return do_evaluate(context);
        } catch (const located_error &) {
            throw;
        } catch (const std::exception & e) {
            std::ostringstream out;
            out << e.what();
            if (location.source) out << error_location_suffix(*location.source, location.pos);
            throw located_error(out.str());''', 1),
    ('''        try {
            do_render(out, context);
        } catch (const LoopControlException & e) {''',
     '''        struct DepthGuard {
            DepthGuard() { ++render_depth; }
            ~DepthGuard() { --render_depth; }
        } depth_guard;
        try {
            check_render_deadline();
            check_render_stack();
            if (size_t(out.tellp()) > kMaxOutputBytes) throw std::runtime_error("template output over 64 MiB");
            if (render_depth > kMaxRenderDepth)
                throw std::runtime_error("template recursion is deeper than " + std::to_string(kMaxRenderDepth) + " levels");
            do_render(out, context);
        } catch (const LoopControlException & e) {''', 1),
    ('''            throw LoopControlException(err.str(), e.control_type);
        } catch (const std::exception & e) {
            std::ostringstream err;
            err << e.what();
            if (location_.source) err << error_location_suffix(*location_.source, location_.pos);
            throw std::runtime_error(err.str());''',
     '''            throw LoopControlException(err.str(), e.control_type);
        } catch (const located_error &) {
            throw;
        } catch (const std::exception & e) {
            std::ostringstream err;
            err << e.what();
            if (location_.source) err << error_location_suffix(*location_.source, location_.pos);
            throw located_error(err.str());''', 1),
    ("""        try {
            return do_evaluate(context);""",
     """        try {
            check_render_deadline();
            check_render_stack();
            return do_evaluate(context);""", 1),
    ("""              case Op::Div:       return l / r;
              case Op::MulMul:    return std::pow(l.get<double>(), r.get<double>());
              case Op::DivDiv:    return l.get<int64_t>() / r.get<int64_t>();
              case Op::Mod:       return l.get<int64_t>() % r.get<int64_t>();""",
     """              case Op::Div:
                  if (r.get<double>() == 0) throw std::runtime_error("division by zero");
                  return l.get<double>() / r.get<double>();
              case Op::MulMul:    return std::pow(l.get<double>(), r.get<double>());
              case Op::DivDiv:
              case Op::Mod: {
                  const auto a = l.get<int64_t>(), b = r.get<int64_t>();
                  if (b == 0) throw std::runtime_error("integer division or modulo by zero");
                  if (b == -1) return op == Op::DivDiv ? Value(a == INT64_MIN ? a : -a) : Value((int64_t) 0);
                  // Python floors: -7 // 2 == -4 and -7 % 2 == 1.
                  int64_t q = a / b, m = a % b;
                  if (m != 0 && ((m < 0) != (b < 0))) { q -= 1; m += b; }
                  return op == Op::DivDiv ? Value(q) : Value(m);
              }""", 1),
    ("""  void dump(std::ostringstream & out, int indent = -1, int level = 0, bool to_json = false) const {
""",
     """  void dump(std::ostringstream & out, int indent = -1, int level = 0, bool to_json = false) const {
    if (level > 256) throw std::runtime_error("value nests deeper than 256 levels");
""", 1),
    ("""      if (is_string() && rhs.is_number_integer()) {
        std::ostringstream out;""",
     """      if (is_string() && rhs.is_number_integer()) {
        if (rhs.get<int64_t>() > 0 && get<std::string>().size() * (double) rhs.get<int64_t>() > (16 << 20))
          throw std::runtime_error("string repetition over 16 MiB");
        if (rhs.get<int64_t>() > 0) charge_render_bytes(get<std::string>().size() * size_t(rhs.get<int64_t>()));
        std::ostringstream out;""", 1),
    ("""    auto res = Value::array();
    if (step > 0) {
      for (int64_t i = start; i < end; i += step) {
        res.push_back(Value(i));
      }
    } else {
      for (int64_t i = start; i > end; i += step) {
        res.push_back(Value(i));
      }
    }
    return res;""",
     """    // A zero step looped forever; a step near INT64_MAX overflowed `i`. Counted instead.
    if (step == 0) throw std::runtime_error("range() arg 3 must not be zero");
    const double span = step > 0 ? (double) end - (double) start : (double) start - (double) end;
    const double count = span <= 0 ? 0 : std::ceil(span / std::abs((double) step));
    if (count > 100000) throw std::runtime_error("range() of more than 100000 items");
    auto res = Value::array();
    for (int64_t k = 0; k < (int64_t) count; ++k) res.push_back(Value(start + k * step));
    return res;""", 1),
    ("""              auto target = ce->object->evaluate(context);
              ArgumentsValue args = ce->args.evaluate(context);""",
     """              auto target = ce->object->evaluate(context);
              if (target.is_null()) {
                if (auto v = dynamic_cast<VariableExpr*>(ce->object.get())) throw std::runtime_error("unknown filter '" + v->get_name() + "'");
              }
              ArgumentsValue args = ce->args.evaluate(context);""", 1),
    ("""              auto callable = part->evaluate(context);
              ArgumentsValue args;""",
     """              auto callable = part->evaluate(context);
              if (callable.is_null()) {
                if (auto v = dynamic_cast<VariableExpr*>(part.get())) throw std::runtime_error("unknown filter '" + v->get_name() + "'");
              }
              ArgumentsValue args;""", 1),
    # Sizes (see 4).
    ("""      if (is_string() || rhs.is_string()) {
        return to_str() + rhs.to_str();
      } else if (is_number_integer() && rhs.is_number_integer()) {
        return get<int64_t>() + rhs.get<int64_t>();
      } else if (is_array() && rhs.is_array()) {
        auto res = Value::array();""",
     """      if (is_string() || rhs.is_string()) {
        auto l = to_str(), r = rhs.to_str();
        check_result_bytes(l.size() + r.size());
        return l + r;
      } else if (is_number_integer() && rhs.is_number_integer()) {
        return get<int64_t>() + rhs.get<int64_t>();
      } else if (is_array() && rhs.is_array()) {
        if (array_->size() + rhs.array_->size() > kMaxListItems) throw std::runtime_error("template list over 1000000 items");
        auto res = Value::array();""", 1),
    ("""              case Op::StrConcat: return l.to_str() + r.to_str();""",
     """              case Op::StrConcat: {
                  auto a = l.to_str(), b = r.to_str();
                  check_result_bytes(a.size() + b.size());
                  return a + b;
              }""", 1),
    ("""        if (first) first = false;
        else oss << sep;
        oss << items.at(i).to_str();""",
     """        if (first) first = false;
        else oss << sep;
        oss << items.at(i).to_str();
        check_value_bytes(size_t(oss.tellp()));
        check_render_deadline();""", 1),
    ("""      if (needs_indent) out += indent;
      out += line;""",
     """      if (needs_indent) out += indent;
      out += line;
      check_value_bytes(out.size());""", 1),
    ("""              str.replace(start_pos, before.length(), after);
              start_pos += after.length();""",
     """              str.replace(start_pos, before.length(), after);
              check_value_bytes(str.size());
              start_pos += after.length();""", 1),
    ("""    auto print_indent = [&](int level) {
      if (indent > 0) {""",
     """    check_value_bytes(size_t(out.tellp()));
    check_render_deadline();
    auto print_indent = [&](int level) {
      if (indent > 0) {
          check_value_bytes(size_t(out.tellp()) + size_t(level) * size_t(indent));""", 1),
    ("""          auto wrap = [len](int64_t i) -> int64_t {
            if (i < 0) {
              return i + len;
            }
            return i;
          };
          int64_t step = slice->step ? slice->step->evaluate(context).get<int64_t>() : 1;
          if (!step) {
            throw std::runtime_error("slice step cannot be zero");
          }""",
     """          int64_t step = slice->step ? slice->step->evaluate(context).get<int64_t>() : 1;
          if (!step) {
            throw std::runtime_error("slice step cannot be zero");
          }
          // Python's PySlice_AdjustIndices: out-of-range bounds are clamped, never read.
          auto wrap = [len = (int64_t) len, step](int64_t i) -> int64_t {
            if (i < 0) {
              i += len;
              if (i < 0) i = step < 0 ? -1 : 0;
            } else if (i >= len) {
              i = step < 0 ? len - 1 : len;
            }
            return i;
          };""", 1),
    # Review round 3 (see 4).
    ("""              for (int64_t i = start; step > 0 ? i < end : i > end; i += step) {
                result += s[i];
              }""",
     """              for (int64_t i = start; step > 0 ? i < end : i > end;) {
                result += s[i];
                if (__builtin_add_overflow(i, step, &i)) break;
              }""", 1),
    ("""            for (int64_t i = start; step > 0 ? i < end : i > end; i += step) {
              result.push_back(target_value.at(i));
            }""",
     """            for (int64_t i = start; step > 0 ? i < end : i > end;) {
              result.push_back(target_value.at(i));
              if (__builtin_add_overflow(i, step, &i)) break;
            }""", 1),
    ("""  bool operator==(const Value & other) const {
""",
     """  bool operator==(const Value & other) const {
    check_render_stack();
""", 1),
    ("""  void insert(size_t index, const Value& v) {
    if (!array_)
      throw std::runtime_error("Value is not an array: " + dump());
    array_->insert(array_->begin() + index, v);
  }
  void push_back(const Value& v) {
    if (!array_)
      throw std::runtime_error("Value is not an array: " + dump());
    array_->push_back(v);
  }""",
     """  // Whether `v` is, or holds at any depth, the container `target` (a cycle if inserted there).
  static bool reaches(const Value & v, const void * target) {
    if (!v.array_ && !v.object_) return false;
    std::vector<const Value *> todo{&v};
    std::unordered_set<const void *> seen;
    while (!todo.empty()) {
      const Value * x = todo.back();
      todo.pop_back();
      const void * id = x->array_ ? (const void *) x->array_.get() : (const void *) x->object_.get();
      if (id == target) return true;
      if (!seen.insert(id).second) continue;
      if ((seen.size() & 1023) == 0) check_render_deadline();
      if (x->array_) {
        for (const auto & e : *x->array_) if (e.array_ || e.object_) todo.push_back(&e);
      } else {
        for (const auto & kv : *x->object_) if (kv.second.array_ || kv.second.object_) todo.push_back(&kv.second);
      }
    }
    return false;
  }
  void insert(size_t index, const Value& v) {
    if (!array_)
      throw std::runtime_error("Value is not an array: " + dump());
    // A list only this value owns (a literal being built) cannot be inside `v`: no walk needed.
    if (array_.use_count() > 1 && reaches(v, array_.get())) throw std::runtime_error("a list cannot contain itself");
    charge_render_bytes(64 + (v.primitive_.is_string() ? v.primitive_.get_ref<const std::string &>().size() : 0));
    array_->insert(array_->begin() + std::min(index, array_->size()), v);
  }
  void push_back(const Value& v) {
    if (!array_)
      throw std::runtime_error("Value is not an array: " + dump());
    if (array_.use_count() > 1 && reaches(v, array_.get())) throw std::runtime_error("a list cannot contain itself");
    charge_render_bytes(64 + (v.primitive_.is_string() ? v.primitive_.get_ref<const std::string &>().size() : 0));
    array_->push_back(v);
  }""", 1),
    ("""    if (!key.is_hashable()) throw std::runtime_error("Unhashable type: " + dump());
    (*object_)[key.primitive_] = value;""",
     """    if (!key.is_hashable()) throw std::runtime_error("Unhashable type: " + dump());
    if (object_.use_count() > 1 && reaches(value, object_.get())) throw std::runtime_error("an object cannot contain itself");
    charge_render_bytes(64 + (value.primitive_.is_string() ? value.primitive_.get_ref<const std::string &>().size() : 0));
    (*object_)[key.primitive_] = value;""", 1),
    ("""            auto sep = vargs.args[0].get<std::string>();
            auto parts = split(str, sep);""",
     """            auto sep = vargs.args[0].get<std::string>();
            if (sep.empty()) throw std::runtime_error("empty separator");
            size_t pieces = 1;
            for (auto at = str.find(sep); at != std::string::npos; at = str.find(sep, at + sep.size()))
              if (++pieces > kMaxListItems) throw std::runtime_error("split() into more than 1000000 pieces");
            auto parts = split(str, sep);""", 1),
    ("""    std::string indent(args.get<int64_t>("indent", 0), ' ');""",
     """    const int64_t width = std::max<int64_t>(0, args.get<int64_t>("indent", 0));
    check_value_bytes(size_t(width));
    std::string indent(size_t(width), ' ');""", 1),
    ("""              for (size_t i = 0, n = filtered_items.size(); i < n; ++i) {
                  auto & item = filtered_items.at(i);""",
     """              for (size_t i = 0, n = filtered_items.size(); i < n; ++i) {
                  if (++render_iterations > kMaxRenderIterations)
                      throw std::runtime_error("template ran more than 50000 loop iterations");
                  auto & item = filtered_items.at(i);""", 1),
    ("""      auto index = key.get<int>();
      return array_->at(index < 0 ? array_->size() + index : index);""",
     """      const auto index = key.get<int64_t>();
      const auto size = (int64_t) array_->size();
      if (index >= size || index < -size) throw std::runtime_error("list index out of range");
      return (*array_)[size_t(index < 0 ? size + index : index)];""", 1),
]


def main(path):
    text = open(path).read()
    for old, new, count in PATCHES:
        found = text.count(old)
        if found != count:
            sys.exit(f"patch_minja: expected {count} occurrence(s) of {old[:60]!r}..., found {found}")
        text = text.replace(old, new)
    open(path, "w").write(text)


if __name__ == "__main__":
    main(sys.argv[1])
