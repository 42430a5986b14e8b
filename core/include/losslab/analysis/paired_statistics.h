#pragma once
// Statistics over per-seed paired differences d_i (e.g. square-loss accuracy minus
// cross-entropy accuracy for the same task and seed; the caller picks the sign): mean, sample
// standard deviation, standard error, a Student-t confidence interval of the mean, the paired
// t-test and the exact Wilcoxon signed-rank test, both two-sided. Also the distribution
// functions they rest on, exposed so that they can be checked on their own.
//
// Pure functions of their arguments: torch-free, Qt-free, callable from any thread.
// Invalid arguments to the distribution functions (df <= 0, x outside [0, 1], NaN) give NaN;
// they are programming errors, not user errors.
#include <string>
#include <vector>

namespace losslab {

struct PairedTest {
    int n = 0;              // differences used (finite values only)
    double mean = 0.0;      // NaN when n == 0
    double std = 0.0;       // sample standard deviation (n - 1); NaN when n < 2
    double stdError = 0.0;  // std / sqrt(n); NaN when n < 2
    double level = 0.95;    // confidence level of [ciLow, ciHigh]
    double ciLow = 0.0;     // mean -/+ t_{(1+level)/2, n-1} * stdError; NaN when n < 2,
    double ciHigh = 0.0;    // [mean, mean] when all differences are equal

    // Paired t-test, two-sided, df = n - 1. NaN when n < 2. When all differences are equal
    // (std 0): t = 0 and p = 1 if they are all 0, else t = +/-inf and p = 0 (with a note).
    double tStatistic = 0.0;
    double tPValue = 0.0;

    // Exact Wilcoxon signed-rank test, two-sided (see wilcoxonExactTwoSidedP).
    int wilcoxonN = 0;                 // differences left after dropping the zeros
    double wilcoxonStatistic = 0.0;    // W+ = sum of the ranks of the positive differences
    double wilcoxonPValue = 0.0;       // NaN when wilcoxonN == 0
    double wilcoxonMinPValue = 0.0;    // smallest p any data of this size can give: 2 / 2^wilcoxonN
    // True when wilcoxonMinPValue >= 1 - level (or there is no test): with that few
    // non-zero differences no outcome can give p < 1 - level (n = 5 at level 0.95).
    bool wilcoxonCannotReachLevel = false;

    // Plain sentences for a report: too few differences, non-finite values left out, zeros
    // dropped, ties, equal differences, and the "p < 0.05 cannot occur" warning.
    std::vector<std::string> notes;

    // False when the interval is NaN (n < 2).
    bool ciContainsZero() const { return ciLow <= 0.0 && 0.0 <= ciHigh; }
};

// All statistics over `differences`. Non-finite values (a seed without a result) are left out
// with a note. `level` must lie strictly between 0 and 1; otherwise throws losslab::Error
// (it usually comes from the user). 1 - level is also the threshold of
// wilcoxonCannotReachLevel.
PairedTest pairedTest(const std::vector<double>& differences, double level = 0.95);

// Exact two-sided p-value of the Wilcoxon signed-rank test, zero method "wilcox": zero
// differences are dropped, |d| is ranked with average ranks for ties, W+ is the sum of the
// ranks of the positive differences, and its null distribution is the exact distribution
// over all 2^n sign flips of the actual ranks (exact with ties too: ties give half-integer
// ranks, which are doubled to integers for the subset-sum recursion). p = min(1, 2 *
// min(P(W+ <= w), P(W+ >= w))). Without ties this matches SciPy's method='exact'.
// Values of |d| within 1e-9 * max|d| of each other count as tied (so that rounding noise
// in differences of accuracies does not break ties); only exact zeros are dropped.
// Time O(n^3), memory O(n^2): instant for n <= 200, about 0.5 s at n = 1000.
// Non-finite differences are ignored. Returns NaN when no non-zero difference is left.
// `statistic` receives W+ and `nonZero` the number of non-zero differences, when not null.
double wilcoxonExactTwoSidedP(const std::vector<double>& differences, double* statistic = nullptr,
                              int* nonZero = nullptr);

// Student's t distribution with df > 0 degrees of freedom (df may be +inf: the standard
// normal). Relative error below 1e-13 in both tails, for df from 0.3 to 1e6 (checked against
// 50-digit references); results below about 1e-308 underflow to 0.
double studentTCdf(double t, double df);
// Inverse of studentTCdf: the t with studentTCdf(t, df) == p; -inf at p = 0, +inf at p = 1
// (and where the answer lies beyond the range of double). Bracketed Newton iteration on the
// CDF, falling back to bisection; relative error below 1e-13.
double studentTQuantile(double p, double df);

// Regularized incomplete beta function I_x(a, b), a > 0, b > 0, 0 <= x <= 1, from its
// continued fraction (DLMF 8.17.22). Relative error about 1e-13 for a, b up to 1e5 (larger
// errors only where the result is subnormal).
double regularizedIncompleteBeta(double a, double b, double x);

} // namespace losslab
