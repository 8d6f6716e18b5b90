package dev.fluxerase.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One C function bound through FFM from its C declaration, e.g. {@code "CUresult cuMemAlloc_v2(CUdeviceptr*, size_t)"}.
 * The declaration is the single source of the Java descriptor, and a test compiles the same declarations against the
 * real cuda.h, so a wrong argument type fails the build instead of corrupting memory on a GPU. A symbol missing from
 * the library (an older driver) fails only when that function is called.
 */
final class NativeFunction {
    private static final Linker LINKER = Linker.nativeLinker();

    private final String declaration;
    private final String name;
    private final String library;
    private final MethodHandle handle;

    private NativeFunction(String declaration, String name, String library, MethodHandle handle) {
        this.declaration = declaration;
        this.name = name;
        this.library = library;
        this.handle = handle;
    }

    /** Binds {@code declaration} in {@code lookup}; {@code types} maps the library's typedefs to layouts. */
    static NativeFunction bind(SymbolLookup lookup, String library, String declaration, Map<String, MemoryLayout> types) {
        Parsed p = parse(declaration, types);
        MethodHandle h = lookup.find(p.name)
                .map(addr -> LINKER.downcallHandle(addr, p.descriptor))
                .orElse(null);
        return new NativeFunction(declaration, p.name, library, h);
    }

    String name() {
        return name;
    }

    String declaration() {
        return declaration;
    }

    boolean present() {
        return handle != null;
    }

    MethodHandle handle() {
        if (handle == null) {
            throw new CudaException(library + " has no symbol " + name + " (a newer version is needed)");
        }
        return handle;
    }

    record Parsed(String returnType, String name, List<String> argTypes, FunctionDescriptor descriptor) {
    }

    /** Splits "ret name(t1, t2)" and maps each C type to a layout; pointers of any kind are addresses. */
    static Parsed parse(String declaration, Map<String, MemoryLayout> types) {
        int open = declaration.indexOf('(');
        int close = declaration.lastIndexOf(')');
        if (open < 0 || close < open) {
            throw new IllegalArgumentException("not a C declaration: " + declaration);
        }
        String head = declaration.substring(0, open).trim();
        int sp = head.lastIndexOf(' ');
        String ret = head.substring(0, sp).trim();
        String name = head.substring(sp + 1).trim();
        List<String> args = new ArrayList<>();
        List<MemoryLayout> layouts = new ArrayList<>();
        String inner = declaration.substring(open + 1, close).trim();
        if (!inner.isEmpty() && !inner.equals("void")) {
            for (String a : inner.split(",")) {
                String t = a.trim();
                args.add(t);
                layouts.add(layout(t, types, declaration));
            }
        }
        MemoryLayout[] argLayouts = layouts.toArray(MemoryLayout[]::new);
        FunctionDescriptor fd = ret.equals("void") ? FunctionDescriptor.ofVoid(argLayouts)
                : FunctionDescriptor.of(layout(ret, types, declaration), argLayouts);
        return new Parsed(ret, name, List.copyOf(args), fd);
    }

    private static MemoryLayout layout(String cType, Map<String, MemoryLayout> types, String declaration) {
        String t = cType.replace("const ", "").trim();
        if (t.endsWith("*")) {
            return ValueLayout.ADDRESS;
        }
        MemoryLayout l = switch (t) {
            case "int", "unsigned int" -> ValueLayout.JAVA_INT;
            case "size_t", "int64_t", "uint64_t", "unsigned long long" -> ValueLayout.JAVA_LONG;
            case "float" -> ValueLayout.JAVA_FLOAT;
            default -> types.get(t);
        };
        if (l == null) {
            throw new IllegalArgumentException("unknown C type '" + cType + "' in " + declaration);
        }
        return l;
    }

    /** A NUL-terminated C string at {@code p}, or null for a null pointer. */
    static String cString(MemorySegment p) {
        return p.equals(MemorySegment.NULL) ? null : p.reinterpret(Long.MAX_VALUE).getString(0);
    }
}
