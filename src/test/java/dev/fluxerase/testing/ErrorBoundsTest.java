package dev.fluxerase.testing;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import java.util.Random;

import static dev.fluxerase.testing.ErrorBounds.U_F32;
import static dev.fluxerase.testing.ErrorBounds.gamma;
import static dev.fluxerase.testing.ErrorBounds.gammaProbabilistic;
import static dev.fluxerase.testing.ErrorBounds.lambda;
import static dev.fluxerase.testing.ErrorBounds.sumGamma;
import static dev.fluxerase.testing.RunningError.exact;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ErrorBoundsTest {
    @Test
    void sumGammaIsTheSmallerOfTheWorstCaseAndTheProbabilisticBound() {
        assertEquals(3072 * U_F32 / (1 - 3072 * U_F32), gamma(3072, U_F32));
        double lambda = lambda(3072, U_F32, 9600);
        double lambdaU = lambda * (1 - U_F32);
        assertEquals(ErrorBounds.FAILURE_PROBABILITY, 2.0 * 3072 * 9600 * Math.exp(-lambdaU * lambdaU / 2), 1e-12);
        assertEquals(gammaProbabilistic(3072, U_F32, lambda), sumGamma(3072, U_F32, 9600));
        assertTrue(sumGamma(3072, U_F32, 9600) < gamma(3072, U_F32) / 5, "λ√k·u against k·u at k = 3072");
        assertEquals(gamma(8, U_F32), sumGamma(8, U_F32, 9600));
    }

    @Test
    void checkFailsAboveItsBoundAndOnNaN() {
        float[] expected = {1, -2};
        ErrorBounds.check("at the bound", expected, new float[]{1, -2.5f}, 0.5);
        assertThrows(AssertionFailedError.class, () -> ErrorBounds.check("above", expected, new float[]{1, -2.5f}, 0.4));
        assertThrows(AssertionFailedError.class,
                () -> ErrorBounds.check("NaN", expected, new float[]{Float.NaN, -2}, 1e30));
        assertThrows(AssertionFailedError.class, () -> ErrorBounds.check("one value", 1.0, 1.5, 0.25));
    }

    /** f32 evaluations of expressions with cancellations stay within their RunningError bounds, which are not loose. */
    @Test
    void runningErrorBoundsHoldForF32Evaluations() {
        Random rnd = new Random(5);
        double worst = 0;
        for (int i = 0; i < 20000; i++) {
            float x = (float) (rnd.nextGaussian() * 3), y = (float) (rnd.nextGaussian() * 3);
            float f = (x * y - y) / (1f + (float) Math.exp(-x)) + (float) Math.tanh(x - y);
            RunningError r = exact(x).times(exact(y)).minus(exact(y))
                    .dividedBy(exact(1).plus(exact(-x).monotone(Math::exp, 0.5)))
                    .plus(exact(x).minus(exact(y)).monotone(Math::tanh, 0.5));
            double ratio = Math.abs(f - r.value()) / r.error();
            assertTrue(ratio <= 1, "x=" + x + " y=" + y + ": " + f + " vs " + r);
            worst = Math.max(worst, ratio);
        }
        assertTrue(worst > 0.05, "largest error / bound " + worst);
    }
}
