#include "losslab/analysis/paired_statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>

#include "losslab/error.h"

namespace losslab {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kLnSqrtTwoPi = 0.91893853320467274178; // ln sqrt(2 pi)
// |d| values closer than this fraction of max |d| are one tie group (see the header).
constexpr double kTieTolerance = 1e-9;

std::string formatNumber(double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%g", v);
    return buffer;
}

// lgamma(x) - [(x - 1/2) ln x - x + ln sqrt(2 pi)] for x >= 10, from Stirling's series
// sum_k B_2k / (2k (2k - 1) x^(2k - 1)); the first omitted term is below 3e-17 at x = 10.
double stirlingCorrection(double x) {
    const double r = 1.0 / x;
    const double r2 = r * r;
    return r * (1.0 / 12 +
                r2 * (-1.0 / 360 +
                      r2 * (1.0 / 1260 +
                            r2 * (-1.0 / 1680 + r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156)))))));
}

// lgamma(a) - lgamma(a + b) for a >= 10, without the cancellation of two large lgammas.
double logGammaRatio(double a, double b) {
    return -(a - 0.5) * std::log1p(b / a) - b * std::log(a + b) + b + stirlingCorrection(a) -
           stirlingCorrection(a + b);
}

double logBeta(double a, double b) {
    const double small = std::min(a, b);
    const double big = std::max(a, b);
    if (big < 10) return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
    if (small < 10) return std::lgamma(small) + logGammaRatio(big, small);
    const double s = a + b;
    return kLnSqrtTwoPi + (a - 0.5) * std::log(a) + (b - 0.5) * std::log(b) - (s - 0.5) * std::log(s) +
           stirlingCorrection(a) + stirlingCorrection(b) - stirlingCorrection(s);
}

// The argument of I_x(a, b) with y = 1 - x and both logarithms, each as exact as the caller
// can make it: with a large, a tiny relative error in x becomes a relative error of about
// a * eps in x^a, so the logarithms must not be recomputed from a rounded x.
struct BetaPoint {
    double x, y, lnX, lnY;
    BetaPoint swapped() const { return {y, x, lnY, lnX}; }
};

// From an exact x: the smaller of x and 1 - x is exact (1 - x is exact for x >= 1/2).
BetaPoint betaPointFromX(double x) {
    const double y = 1.0 - x;
    return {x, y, x < 0.5 ? std::log(x) : std::log1p(-y), x < 0.5 ? std::log1p(-x) : std::log(y)};
}

// ln[x^a y^b / B(a, b)].
double logBetaPrefactor(double a, double b, const BetaPoint& p) {
    if (a >= 10 && b >= 10) {
        // x^a y^b / B(a,b) = sqrt(ab / (2 pi s)) (x s / a)^a (y s / b)^b exp(-corrections): the
        // large parts of ln B cancel against a ln x + b ln y analytically, not numerically.
        const double s = a + b;
        // e = x s - a = b - y s, from whichever of x and y is the smaller (and exact) one.
        const double e = p.x <= p.y ? std::fma(p.x, s, -a) : -std::fma(p.y, s, -b);
        const double partA = std::fabs(e) < 0.5 * a ? a * std::log1p(e / a) : a * (p.lnX + std::log(s / a));
        const double partB = std::fabs(e) < 0.5 * b ? b * std::log1p(-e / b) : b * (p.lnY + std::log(s / b));
        return partA + partB + 0.5 * std::log(a * b / s) - kLnSqrtTwoPi -
               (stirlingCorrection(a) + stirlingCorrection(b) - stirlingCorrection(s));
    }
    return a * p.lnX + b * p.lnY - logBeta(a, b);
}

// The continued fraction of I_x(a, b) (DLMF 8.17.22):
//   I_x(a, b) = x^a y^b / (a B(a, b)) / K,   K = 1 + d1 / (1 + d2 / (1 + d3 / (1 + ...))),
//   d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
//   d_{2m}   = m (b - m) x / ((a + 2m - 1)(a + 2m)).
// Converges fast for x < (a + 1) / (a + b + 2), in about sqrt(max(a, b)) terms at worst. With
// a large and x near 1 (the t distribution with many degrees of freedom), d_{2m+1} is close
// to -1 and K is small, so 1 + d_{2m+1} must not be formed by subtraction. Hence the odd
// contraction (same value, every second approximant):
//   K = (1 + d1) - d1 d2 / ((1 + d3) + d2 - d3 d4 / ((1 + d5) + d4 - ...)),
// with 1 + d_{2m+1} = [a (2m + 1 - b) + m (3m + 2 - b) + (a + m)(a + b + m) y] / ((a + 2m)(a + 2m + 1))
// written with y = 1 - x where y is the smaller, evaluated by the modified Lentz method.
double betaContinuedFractionDenominator(double a, double b, const BetaPoint& p) {
    const double x = p.x;
    const double y = p.y;
    const auto dOdd = [&](double m) { return -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)); };
    const auto onePlusDOdd = [&](double m) {
        const double den = (a + 2 * m) * (a + 2 * m + 1);
        const double q = (a + m) * (a + b + m);
        if (y < x) return (a * (2 * m + 1 - b) + m * (3 * m + 2 - b) + q * y) / den;
        return std::fma(-q, x, den) / den; // x <= 1/2 is the exact one: a single rounding
    };
    const auto dEven = [&](double m) { return m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)); };

    const double tiny = 1e-300;
    const int maxTerms = 1000 + static_cast<int>(20 * std::sqrt(std::max(a, b)));
    double f = onePlusDOdd(0);
    if (std::fabs(f) < tiny) f = tiny;
    double c = f;
    double d = 0.0;
    for (int k = 1; k <= maxTerms; ++k) {
        const double alpha = -dOdd(k - 1) * dEven(k);
        const double beta = onePlusDOdd(k) + dEven(k);
        d = beta + alpha * d;
        if (std::fabs(d) < tiny) d = tiny;
        c = beta + alpha / c;
        if (std::fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        const double delta = c * d;
        f *= delta;
        if (std::fabs(delta - 1.0) < kEps) break;
    }
    return f;
}

// I_x(a, b) for 0 < x < 1.
double incompleteBeta(double a, double b, const BetaPoint& p) {
    if (p.x < (a + 1) / (a + b + 2))
        return std::exp(logBetaPrefactor(a, b, p)) / a / betaContinuedFractionDenominator(a, b, p);
    // I_x(a, b) = 1 - I_y(b, a)
    const BetaPoint q = p.swapped();
    return 1.0 - std::exp(logBetaPrefactor(b, a, q)) / b / betaContinuedFractionDenominator(b, a, q);
}

// ln[df / (df + t^2)], also where t^2 overflows.
double logTailX(double t, double df) {
    const double at = std::fabs(t);
    if (at > 1e150) return std::log(df) - 2 * std::log(at);
    return -std::log1p(at * at / df);
}

// x = df / (df + t^2) and y = t^2 / (df + t^2) for P(T <= -|t|) = I_x(df/2, 1/2) / 2; t^2 finite.
BetaPoint tailBetaPoint(double t, double df) {
    const double t2 = t * t;
    const double y = t2 / (df + t2);
    return {df / (df + t2), y, logTailX(t, df), t2 < df ? std::log(y) : -std::log1p(df / t2)};
}

double normalCdf(double t) { return 0.5 * std::erfc(-t / std::sqrt(2.0)); }

double studentTPdf(double t, double df) {
    if (std::isinf(df)) return std::exp(-0.5 * t * t - kLnSqrtTwoPi);
    return std::exp(0.5 * (df + 1) * logTailX(t, df) - 0.5 * std::log(df) - logBeta(0.5 * df, 0.5));
}

// The t < 0 with studentTCdf(t, df) == p, for 0 < p < 0.5.
double lowerTailQuantile(double p, double df) {
    double hi = 0.0; // studentTCdf(hi) > p
    double lo = -1.0;
    while (studentTCdf(lo, df) > p) {
        if (lo < -1e300) return -kInf; // beyond the range of double (tiny p with df < 1)
        hi = lo;
        lo *= 2;
    }
    // Newton steps where they stay inside [lo, hi], a bisection instead after a Newton step
    // that did not halve the bracket; the bracket always holds the root.
    double t = 0.5 * (lo + hi);
    double previousWidth = hi - lo;
    bool lastWasNewton = false;
    for (int iteration = 0; iteration < 400; ++iteration) {
        const double excess = studentTCdf(t, df) - p;
        if (excess == 0) return t;
        if (excess < 0)
            lo = t;
        else
            hi = t;
        const double width = hi - lo;
        if (width <= 4 * kEps * std::fabs(t)) return 0.5 * (lo + hi);
        const double pdf = studentTPdf(t, df);
        double next = pdf > 0 ? t - excess / pdf : kNaN;
        const bool useNewton = std::isfinite(next) && next > lo && next < hi &&
                               !(lastWasNewton && width > 0.5 * previousWidth);
        previousWidth = width;
        lastWasNewton = useNewton;
        if (!useNewton) {
            next = 0.5 * (lo + hi);
        } else if (std::fabs(next - t) <= 2 * kEps * std::fabs(t)) {
            return next;
        }
        t = next;
    }
    return t;
}

struct SignedRankOutcome {
    int n = 0;           // non-zero, finite differences
    int tied = 0;        // differences that share their |d| with another
    double wPlus = kNaN;
    double p = kNaN;
};

SignedRankOutcome signedRank(const std::vector<double>& differences) {
    std::vector<double> d;
    for (const double v : differences)
        if (std::isfinite(v) && v != 0.0) d.push_back(v);
    SignedRankOutcome out;
    out.n = static_cast<int>(d.size());
    if (d.empty()) return out;

    std::sort(d.begin(), d.end(), [](double x, double y) { return std::fabs(x) < std::fabs(y); });
    const double tolerance = kTieTolerance * std::fabs(d.back());
    // Doubled ranks: a tie group over sorted positions i..j (0-based) has the average rank
    // (i + j + 2) / 2, so twice the rank is the integer i + j + 2.
    std::vector<int> rank2(d.size());
    for (std::size_t i = 0; i < d.size();) {
        std::size_t j = i;
        while (j + 1 < d.size() && std::fabs(d[j + 1]) - std::fabs(d[i]) <= tolerance) ++j;
        for (std::size_t k = i; k <= j; ++k) rank2[k] = static_cast<int>(i + j + 2);
        if (j > i) out.tied += static_cast<int>(j - i + 1);
        i = j + 1;
    }
    long long w2 = 0;
    for (std::size_t k = 0; k < d.size(); ++k)
        if (d[k] > 0) w2 += rank2[k];
    out.wPlus = 0.5 * static_cast<double>(w2);

    // Null distribution of the doubled W+ under independent fair sign flips: probabilities
    // (not counts) so that nothing overflows; for untied ranks every value is a multiple of
    // 2^-n and the sums below are exact up to n = 53.
    const std::size_t total = static_cast<std::size_t>(out.n) * static_cast<std::size_t>(out.n + 1);
    std::vector<double> prob(total + 1, 0.0);
    prob[0] = 1.0;
    std::size_t reach = 0;
    for (const int r : rank2) {
        const auto step = static_cast<std::size_t>(r);
        for (std::size_t s = reach + step + 1; s-- > 0;)
            prob[s] = 0.5 * (prob[s] + (s >= step ? prob[s - step] : 0.0));
        reach += step;
    }
    const auto w = static_cast<std::size_t>(w2);
    double lower = 0.0;
    for (std::size_t s = 0; s <= w; ++s) lower += prob[s];
    double upper = 0.0;
    for (std::size_t s = total + 1; s-- > w;) upper += prob[s];
    out.p = std::min(1.0, 2 * std::min(lower, upper));
    return out;
}

} // namespace

double regularizedIncompleteBeta(double a, double b, double x) {
    if (!(a > 0) || !(b > 0) || !std::isfinite(a) || !std::isfinite(b) || !(x >= 0 && x <= 1)) return kNaN;
    if (x == 0) return 0.0;
    if (x == 1) return 1.0;
    return incompleteBeta(a, b, betaPointFromX(x));
}

double studentTCdf(double t, double df) {
    if (std::isnan(t) || !(df > 0)) return kNaN;
    if (std::isinf(df)) return normalCdf(t);
    if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
    // P(T <= -|t|) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2). Near t = 0 incompleteBeta
    // works on 1 - I_y(1/2, df/2) with y = t^2 / (df + t^2), so the centre stays accurate too.
    const double a = 0.5 * df;
    const double lnX = logTailX(t, df);
    double tail;
    if (lnX < -600) {
        // x below 1e-260: I_x(a, 1/2) = x^a / (a B(a, 1/2)) to a relative error of order x.
        tail = 0.5 * std::exp(a * lnX - logBeta(a, 0.5)) / a;
    } else {
        tail = 0.5 * incompleteBeta(a, 0.5, tailBetaPoint(t, df));
    }
    return t < 0 ? tail : 1.0 - tail;
}

double studentTQuantile(double p, double df) {
    if (!(p >= 0 && p <= 1) || !(df > 0)) return kNaN;
    if (p == 0) return -kInf;
    if (p == 1) return kInf;
    if (p == 0.5) return 0.0;
    if (p > 0.5) return -lowerTailQuantile(1.0 - p, df); // 1 - p is exact here
    return lowerTailQuantile(p, df);
}

double wilcoxonExactTwoSidedP(const std::vector<double>& differences, double* statistic, int* nonZero) {
    const SignedRankOutcome outcome = signedRank(differences);
    if (statistic) *statistic = outcome.wPlus;
    if (nonZero) *nonZero = outcome.n;
    return outcome.p;
}

PairedTest pairedTest(const std::vector<double>& differences, double level) {
    if (!(level > 0 && level < 1))
        throw Error("paired statistics: the confidence level must lie strictly between 0 and 1, got " +
                    formatNumber(level));
    PairedTest r;
    r.level = level;
    const double alpha = 1 - level;

    std::vector<double> d;
    for (const double v : differences)
        if (std::isfinite(v)) d.push_back(v);
    const std::size_t skipped = differences.size() - d.size();
    if (skipped > 0)
        r.notes.push_back(std::to_string(skipped) + (skipped == 1 ? " difference is" : " differences are") +
                          " not a finite number (a seed without a result?) and left out");
    r.n = static_cast<int>(d.size());

    r.mean = r.std = r.stdError = r.ciLow = r.ciHigh = r.tStatistic = r.tPValue = kNaN;
    if (r.n == 0) {
        r.notes.push_back("no differences: no statistics and no tests");
    } else {
        const bool identical = std::all_of(d.begin(), d.end(), [&](double v) { return v == d.front(); });
        // Equal as the Wilcoxon ties are: (k + 1) / N - k / N differs in its last bits from k,
        // and a std made of that rounding noise would give a t of 1e15 instead of an infinite one.
        double largest = 0.0;
        for (const double v : d) largest = std::max(largest, std::fabs(v));
        const bool allEqual = identical || std::all_of(d.begin(), d.end(), [&](double v) {
            return std::fabs(v - d.front()) <= kTieTolerance * largest;
        });
        r.mean = identical ? d.front() : std::accumulate(d.begin(), d.end(), 0.0) / r.n;
        if (r.n < 2) {
            r.notes.push_back("n = 1: the standard deviation, the confidence interval and the t-test need at "
                              "least 2 differences");
        } else {
            double squares = 0.0;
            for (const double v : d) squares += (v - r.mean) * (v - r.mean);
            r.std = allEqual ? 0.0 : std::sqrt(squares / (r.n - 1));
            r.stdError = r.std / std::sqrt(static_cast<double>(r.n));
            const double df = r.n - 1;
            const double tCritical = -studentTQuantile(0.5 * alpha, df);
            r.ciLow = r.mean - tCritical * r.stdError;
            r.ciHigh = r.mean + tCritical * r.stdError;
            if (r.std == 0) {
                if (r.mean == 0) {
                    r.tStatistic = 0.0;
                    r.tPValue = 1.0;
                    r.notes.push_back("all " + std::to_string(r.n) +
                                      " differences are 0: the t-test p is set to 1");
                } else {
                    r.tStatistic = std::copysign(kInf, r.mean);
                    r.tPValue = 0.0;
                    r.notes.push_back("all " + std::to_string(r.n) + " differences equal " +
                                      formatNumber(r.mean) +
                                      ": the standard deviation is 0, so the t-test p is set to 0");
                }
            } else {
                r.tStatistic = r.mean / r.stdError;
                r.tPValue = std::min(1.0, 2 * studentTCdf(-std::fabs(r.tStatistic), df));
            }
        }
    }

    const SignedRankOutcome w = signedRank(d);
    r.wilcoxonN = w.n;
    r.wilcoxonStatistic = w.wPlus;
    r.wilcoxonPValue = w.p;
    r.wilcoxonMinPValue = w.n > 0 ? std::min(1.0, std::ldexp(1.0, 1 - w.n)) : kNaN;
    r.wilcoxonCannotReachLevel = !(r.wilcoxonMinPValue < alpha);
    const int zeros = r.n - w.n;
    if (r.n > 0 && w.n == 0) {
        r.notes.push_back("all differences are 0: no Wilcoxon test");
    } else if (w.n > 0) {
        if (zeros > 0)
            r.notes.push_back(std::to_string(zeros) + (zeros == 1 ? " zero difference" : " zero differences") +
                              " left out of the Wilcoxon test (n = " + std::to_string(w.n) + " remain)");
        if (w.tied > 0)
            r.notes.push_back(std::to_string(w.tied) +
                              " differences share their absolute value with another: the Wilcoxon test uses "
                              "average ranks and their exact sign-flip distribution");
        if (r.wilcoxonCannotReachLevel)
            r.notes.push_back("n = " + std::to_string(w.n) + ": the smallest possible Wilcoxon p is " +
                              formatNumber(r.wilcoxonMinPValue) + ", so p < " + formatNumber(alpha) +
                              " cannot occur");
    }
    return r;
}

} // namespace losslab
