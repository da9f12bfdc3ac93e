# gdb pretty-printers for tapegrad (gdb's Python API):
#
#   (gdb) print t
#   $1 = tg::Tensor float32 [2, 3], requires_grad = {[1, 2, 3], [4, 5, 6]}
#   (gdb) print t.sizes()        # or any tg::Shape
#   $2 = [2, 3]
#
# The printers only read memory (no calls into the program), so they work on core files
# too. The tensor's implementation (lib/tensor/tensor_impl.hpp) is read through its debug
# info when libtapegrad has it (-g builds); a release library has none, and then the layout
# is derived from tg::Shape, which every program using tapegrad has in its own debug info.
#
# Installed with the library as <datadir>/gdb/auto-load/<libdir>/libtapegrad.so.<version>-gdb.py,
# so gdb loads it for any program linked with an installed libtapegrad. In a build tree:
#   gdb -iex 'add-auto-load-safe-path .' -x tools/gdb/tapegrad_printers.py ./prog
# Settings: `set print elements N` limits the values shown (default here: 10 when gdb's
# limit is 200 or unlimited, as first values are what one wants to see).

import gdb
import gdb.printing

DTYPES = {0: ("bool", "bool"), 1: ("int64", "long"), 2: ("float32", "float"), 3: ("float64", "double")}
MAX_VALUES = 10


def _lookup(name):
    try:
        return gdb.lookup_type(name)
    except gdb.error:
        return None


def _complete(t):
    """The type if gdb knows its members (not just a declaration)."""
    try:
        return t if t is not None and t.strip_typedefs().fields() is not None and t.sizeof > 0 else None
    except (gdb.error, TypeError):
        return None


def _head_impl0(val):
    """The first element of a libstdc++ std::tuple (what unique_ptr keeps its pointer in)."""
    t = val.type.strip_typedefs()
    if t.tag is not None and t.tag.startswith("std::_Head_base<0"):
        return val["_M_head_impl"]
    for f in t.fields():
        if f.is_base_class:
            found = _head_impl0(val.cast(f.type))
            if found is not None:
                return found
    return None


def _smart_ptr_get(val):
    """The raw pointer held by a std::shared_ptr or std::unique_ptr (libstdc++)."""
    try:
        return val["_M_ptr"]  # shared_ptr (a member of its __shared_ptr base)
    except gdb.error:
        pass
    try:
        return _head_impl0(val["_M_t"]["_M_t"])  # unique_ptr: tuple<pointer, deleter>
    except gdb.error:
        return None


def _shape_list(shape):
    data = shape["data_"]
    n = int(shape["size_"])
    if n < 0 or n > 64:
        raise gdb.error("tg::Shape with %d dims: not initialised?" % n)
    return [int(data[i]) for i in range(n)]


def _fmt_shape(dims):
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _fmt_value(v, dtype):
    if dtype == "bool":
        return "true" if int(v) else "false"
    if dtype == "int64":
        return str(int(v))
    x = float(v)
    return "%g" % x


class _ImplView:
    """The fields of a tg::TensorImpl at `addr`: from debug info or the derived layout."""

    def __init__(self, impl_ptr):
        u8 = gdb.lookup_type("unsigned char")
        i64 = gdb.lookup_type("long")
        voidp = gdb.lookup_type("void").pointer()
        shape_t = gdb.lookup_type("tg::Shape")
        impl_t = _complete(_lookup("tg::TensorImpl"))
        self.name = None
        if impl_t is not None:
            impl = impl_ptr.cast(impl_t.pointer()).dereference()
            storage = _smart_ptr_get(impl["storage_"])
            self.data = storage.dereference()["data"].cast(voidp) if storage is not None and int(storage) else None
            self.sizes = _shape_list(impl["sizes_"])
            self.strides = _shape_list(impl["strides_"])
            self.offset = int(impl["offset_"])
            self.dtype = int(impl["dtype_"].cast(u8))
            meta = _smart_ptr_get(impl["autograd_"])
            self.meta = int(meta) if meta is not None else 0
            if self.meta:
                m = meta.dereference()
                self.requires_grad = bool(m["requires_grad"])
                gf = _smart_ptr_get(m["grad_fn"])
                self.grad_fn = self._node_name(gf) if gf is not None and int(gf) else None
                try:
                    name = m["name"].format_string()
                    self.name = None if name in ('""', "") else name
                except gdb.error:
                    pass
            else:
                self.requires_grad, self.grad_fn = False, None
            return
        # No debug info for the library: TensorImpl is
        #   shared_ptr<Storage> storage_; Shape sizes_, strides_; int64 offset_, numel_;
        #   Dtype dtype_ (uint8); bool contiguous_; unique_ptr<AutogradMeta> autograd_;
        # Storage starts with `void* data`, AutogradMeta with `bool requires_grad`.
        base = int(impl_ptr)
        s = shape_t.sizeof

        def read(addr, t):
            return gdb.Value(addr).cast(t.pointer()).dereference()

        storage = int(read(base, voidp))
        self.data = read(storage, voidp) if storage else None
        self.sizes = _shape_list(read(base + 16, shape_t))
        self.strides = _shape_list(read(base + 16 + s, shape_t))
        self.offset = int(read(base + 16 + 2 * s, i64))
        self.dtype = int(read(base + 32 + 2 * s, u8))
        meta = int(read(base + 40 + 2 * s, voidp))
        self.meta = meta
        self.requires_grad = bool(int(read(meta, u8))) if meta else False
        self.grad_fn = None
        if meta:
            # AutogradMeta: bool, bool, Tensor grad (16 bytes), shared_ptr<Node> grad_fn.
            node = int(read(meta + 24, voidp))
            if node:
                self.grad_fn = self._node_name(read(meta + 24, voidp))

    @staticmethod
    def _node_name(node_ptr):
        """The op name of a tape node: FunctionNode::name_ with debug info, else its class."""
        try:
            fn_t = _complete(_lookup("tg::detail::FunctionNode"))
            dyn = node_ptr.cast(gdb.lookup_type("tg::Node").pointer()).dynamic_type if _lookup("tg::Node") else None
            dyn_name = str(dyn.target().strip_typedefs()) if dyn is not None else ""
            # a recorded op's node is a ClosureNode<its backward closure>, a FunctionNode
            if fn_t is not None and (dyn_name == "tg::detail::FunctionNode"
                                     or dyn_name.startswith("tg::detail::ClosureNode<")):
                sv = node_ptr.cast(fn_t.pointer()).dereference()["name_"]
                n = int(sv["_M_len"])
                return sv["_M_str"].string(length=n)
        except gdb.error:
            pass
        # The class from the vtable's symbol ("vtable for tg::detail::FunctionNode").
        try:
            vptr = int(node_ptr.cast(gdb.lookup_type("long").pointer()).dereference())
            sym = gdb.execute("info symbol 0x%x" % vptr, to_string=True)
            if sym.startswith("vtable for "):
                cls = sym[len("vtable for "):].split(" + ")[0].split(" in ")[0].strip()
                return "tg::detail::FunctionNode" if cls.startswith("tg::detail::ClosureNode<") else cls
        except gdb.error:
            pass
        return "?"


class TensorPrinter:
    def __init__(self, val):
        self.val = val

    def _limit(self):
        try:
            n = gdb.parameter("print elements")
        except gdb.error:
            n = None
        if n is None or n == 0 or n >= 200:
            return MAX_VALUES
        return int(n)

    def _values(self, v, dtype, ctype):
        numel = 1
        for d in v.sizes:
            numel *= d
        if v.data is None:
            return "(no storage)"
        elem_t = gdb.lookup_type(ctype)
        base = v.data.cast(elem_t.pointer()) + v.offset
        limit = self._limit()
        dims = v.sizes
        if not dims:
            return _fmt_value(base.dereference(), dtype)
        if numel == 0:
            return "[]"
        # Row-major walk through the strides, nested brackets, stopping after `limit`.
        out = []
        shown = 0
        index = [0] * len(dims)
        out.append("[" * len(dims))
        while True:
            off = sum(i * s for i, s in zip(index, v.strides))
            out.append(_fmt_value((base + off).dereference(), dtype))
            shown += 1
            if shown >= numel:
                out.append("]" * len(dims))
                break
            if shown >= limit:
                out.append(", ...")
                break
            # Advance the index; close/open brackets for dims that wrap.
            k = len(dims) - 1
            while k >= 0:
                index[k] += 1
                if index[k] < dims[k]:
                    break
                index[k] = 0
                k -= 1
            closed = len(dims) - 1 - k
            out.append("]" * closed + ", " + "[" * closed)
        return "".join(out)

    def to_string(self):
        impl_ptr = _smart_ptr_get(self.val["impl_"])
        if impl_ptr is None or int(impl_ptr) == 0:
            return "tg::Tensor (undefined)"
        try:
            v = _ImplView(impl_ptr)
        except (gdb.error, gdb.MemoryError) as e:
            return "tg::Tensor @0x%x (unreadable: %s)" % (int(impl_ptr), e)
        dtype, ctype = DTYPES.get(v.dtype, ("dtype(%d)" % v.dtype, None))
        head = "tg::Tensor %s %s" % (dtype, _fmt_shape(v.sizes))
        if v.grad_fn:
            head += ", grad_fn = %s" % v.grad_fn
        elif v.requires_grad:
            head += ", requires_grad"
        if v.name:
            head += ", name = %s" % v.name
        if ctype is None:
            return head
        try:
            values = self._values(v, dtype, ctype)
        except (gdb.error, gdb.MemoryError) as e:
            values = "(values unreadable: %s)" % e
        return head + " = " + values


class ShapePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            return _fmt_shape(_shape_list(self.val))
        except (gdb.error, gdb.MemoryError) as e:
            return "tg::Shape (unreadable: %s)" % e


def build_printer():
    pp = gdb.printing.RegexpCollectionPrettyPrinter("tapegrad")
    pp.add_printer("tg::Tensor", "^tg::Tensor$", TensorPrinter)
    pp.add_printer("tg::Shape", "^tg::Shape$", ShapePrinter)
    return pp


def register(objfile=None):
    gdb.printing.register_pretty_printer(objfile, build_printer(), replace=True)


# Auto-loaded for an objfile (the library): attach there; sourced with -x: globally.
register(gdb.current_objfile())
