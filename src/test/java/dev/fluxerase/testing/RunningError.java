package dev.fluxerase.testing;

import java.util.function.DoubleUnaryOperator;
import java.util.function.IntFunction;

/**
 * A value that f32 code computes, carried as its exact value (in double) and a bound on how far the computed f32 value
 * can be from it: running error analysis (Higham, Accuracy and Stability of Numerical Algorithms, §3.3). Writing a
 * kernel's expression with these operations, on the test's own data, gives that kernel's error bound element by
 * element, cancellations included (1 + tanh near −1, x − mean, cos·a − sin·b), which "a few ulps of the result"
 * misses.
 *
 * <p>Not first order: each operation carries its inputs' errors through exactly for + − × ÷ and through a monotone
 * function by evaluating it at both ends of the argument's interval, then adds the rounding of its result, u times
 * the largest magnitude the computed result can have. So the bound holds whatever the order of fma contraction: an fma
 * rounds once where the expression charges two roundings.
 */
public record RunningError(double value, double error) {
    private static final double U = ErrorBounds.U_F32;
    /** An f32 ulp is at most 2⁻²³ of a normal value. */
    private static final double ULP = 2 * U;

    public static RunningError exact(double v) {
        return new RunningError(v, 0);
    }

    /** An f32 constant that stands for a real number (a kernel's 0.7978845608f for √(2/π)): off by its representation. */
    public static RunningError constant(float used, double meant) {
        return new RunningError(meant, Math.abs(used - meant));
    }

    private static RunningError rounded(double v, double carried) {
        return new RunningError(v, carried + U * (Math.abs(v) + carried));
    }

    public RunningError plus(RunningError o) {
        return rounded(value + o.value, error + o.error);
    }

    public RunningError minus(RunningError o) {
        return rounded(value - o.value, error + o.error);
    }

    public RunningError times(RunningError o) {
        return rounded(value * o.value, Math.abs(value) * o.error + Math.abs(o.value) * error + error * o.error);
    }

    /** |(a + α)/(b + β) − a/b| ≤ (|α| + |a/b|·|β|) / (|b| − |β|). */
    public RunningError dividedBy(RunningError o) {
        double least = Math.abs(o.value) - o.error;
        if (!(least > 0)) {
            throw new IllegalArgumentException("divisor " + o + " may be 0");
        }
        double q = value / o.value;
        return rounded(q, (error + Math.abs(q) * o.error) / least);
    }

    public RunningError negate() {
        return new RunningError(-value, error);
    }

    /**
     * A monotone function f computed within {@code ulps} ulps of its value at the computed argument: the argument's
     * error moves f by at most max|f(x ± error) − f(x)|, and the function's own error adds ulps·2⁻²³ of the result.
     */
    public RunningError monotone(DoubleUnaryOperator f, double ulps) {
        double v = f.applyAsDouble(value);
        double moved = Math.max(Math.abs(f.applyAsDouble(value + error) - v), Math.abs(f.applyAsDouble(value - error) - v));
        if (Double.isNaN(moved)) {
            throw new IllegalArgumentException("argument " + this + " leaves the function's domain");
        }
        return new RunningError(v, moved + ulps * ULP * (Math.abs(v) + moved));
    }

    /** Σ terms in any order: their errors plus gamma·Σ(|t_i| + error_i), gamma from {@link ErrorBounds#sumGamma}. */
    public static RunningError sum(RunningError[] terms, double gamma) {
        double v = 0;
        double carried = 0;
        double magnitude = 0;
        for (RunningError t : terms) {
            v += t.value;
            carried += t.error;
            magnitude += Math.abs(t.value) + t.error;
        }
        return new RunningError(v, carried + gamma * magnitude);
    }

    /**
     * The bound on |this f32 result − NaiveBackend's|: this error plus the reference's rounding of the exact value (it
     * computes in double and rounds once).
     */
    public double againstF64Reference() {
        return error + U * Math.abs(value);
    }

    /** {@link #againstF64Reference} of element i for every i < n. */
    public static double[] againstF64Reference(int n, IntFunction<RunningError> element) {
        double[] b = new double[n];
        for (int i = 0; i < n; i++) {
            b[i] = element.apply(i).againstF64Reference();
        }
        return b;
    }
}
