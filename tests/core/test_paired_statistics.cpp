// Paired statistics: Student t CDF and quantile, the regularized incomplete beta function,
// the paired t-test with its confidence interval, and the exact Wilcoxon signed-rank test.
//
// Expected numbers were computed independently of the C++ code by a scratch script
// (/usr/bin/python3 with SciPy 1.10.1, NumPy 1.24.2, mpmath 1.2.1), printed with repr():
//   t CDF             scipy.stats.t.cdf(t, df) (df = inf: the normal CDF); SciPy's tails agree
//                     with a 50-digit mpmath quadrature to 3e-14. One row (t = -1e200,
//                     df = 1), where SciPy underflows to 0, holds 1 / (pi 1e200) instead.
//   t quantile        50-digit mpmath: bisection on the quadrature CDF. scipy.stats.t.ppf
//                     (Cephes stdtri) is off by up to 1e-9 relative here, and by factors at
//                     p = 1e-200, so it is not the reference.
//   incomplete beta   mpmath.betainc, or for a or b above 1000 a 50-digit quadrature of the
//                     integral (I = 1/2 exactly for a = b, x = 1/2). scipy.special.betainc
//                     is off by up to 6e-11 for the large parameters (see the comments).
//   paired t          NumPy mean, std(ddof=1), std / sqrt(n); scipy.stats.ttest_1samp(d, 0)
//                     and ttest_rel(square, ce); interval mean -/+ q se with q the mpmath
//                     quantile above at (1 + level) / 2, levels 0.95, 0.90, 0.99 (agrees with
//                     scipy.stats.t.interval to 1e-8 se, the accuracy of SciPy's t.ppf).
//   Wilcoxon, no ties scipy.stats.wilcoxon(d, alternative='two-sided', method='exact')
//                     (zero_method 'wilcox'); W+ = sum of scipy.stats.rankdata(|d|) over d > 0;
//                     random distinct |d| for n = 5..20, 60 and 100.
//   Wilcoxon, ties or zeros  SciPy's exact method truncates tied rank sums and switches to
//                     the normal approximation on zeros, so: drop zeros, doubled average ranks
//                     from rankdata, enumerate all 2^n sign flips (n <= 16), count W+ <= w and
//                     W+ >= w, p = min(1, 2 min(count_le, count_ge) / 2^n).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "losslab/analysis/paired_statistics.h"
#include "losslab/error.h"

namespace {

using losslab::pairedTest;
using losslab::PairedTest;
using losslab::regularizedIncompleteBeta;
using losslab::studentTCdf;
using losslab::studentTQuantile;
using losslab::wilcoxonExactTwoSidedP;

constexpr double kInf = std::numeric_limits<double>::infinity();

// |got - want| <= rel * |want|; a want of 0 needs a got of 0 (or below 1e-300).
::testing::AssertionResult relativelyClose(double got, double want, double rel) {
    const double error = std::fabs(got - want);
    if (want == 0 ? std::fabs(got) <= 1e-300 : error <= rel * std::fabs(want))
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", want " << want << ", relative error "
                                         << (want == 0 ? error : error / std::fabs(want));
}

bool hasNote(const PairedTest& r, const std::string& part) {
    return std::any_of(r.notes.begin(), r.notes.end(),
                       [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

std::string allNotes(const PairedTest& r) {
    std::string s;
    for (const auto& n : r.notes) s += "[" + n + "] ";
    return s;
}

// ---------------------------------------------------------------- Student t CDF

struct TCdfCase {
    double t, df, cdf;
};

class StudentTCdfTable : public ::testing::TestWithParam<TCdfCase> {};

TEST_P(StudentTCdfTable, MatchesScipy) {
    const auto& c = GetParam();
    // A far tail is exp(-hundreds): an ulp or two in that exponent (and in SciPy's, which is
    // 3e-14 off there) is a relative error of about 1e-13.
    const double tolerance = c.cdf < 1e-30 ? 3e-13 : 1e-13;
    EXPECT_TRUE(relativelyClose(studentTCdf(c.t, c.df), c.cdf, tolerance)) << "t = " << c.t << ", df = " << c.df;
}

const TCdfCase kStudentTCdfTableCases[] = {
    {-10000000000.0, 1.0, 3.1830988618379065e-11},
    {-1000.0, 1.0, 0.00031830978008055887},
    {-40.0, 1.0, 0.007956089912025812},
    {-8.0, 1.0, 0.03958342416056554},
    {-2.5, 1.0, 0.12111894159084335},
    {-1.0, 1.0, 0.24999999999999978},
    {-0.3, 1.0, 0.4072264209222577},
    {-1e-05, 1.0, 0.4999968169011383},
    {0.0, 1.0, 0.5},
    {0.2, 1.0, 0.5628329581890013},
    {1.0, 1.0, 0.7500000000000002},
    {2.5, 1.0, 0.8788810584091566},
    {8.0, 1.0, 0.9604165758394345},
    {40.0, 1.0, 0.9920439100879742},
    {-10000000000.0, 2.0, 4.999999999999999e-21},
    {-1000.0, 2.0, 4.9999925000125e-07},
    {-40.0, 2.0, 0.0003122073360923703},
    {-8.0, 2.0, 0.00763403608266907},
    {-2.5, 2.0, 0.0648058601107554},
    {-1.0, 2.0, 0.21132486540518713},
    {-0.3, 2.0, 0.3962428304200888},
    {-1e-05, 2.0, 0.49999646446609414},
    {0.0, 2.0, 0.5},
    {0.2, 2.0, 0.5700140042014006},
    {1.0, 2.0, 0.7886751345948129},
    {2.5, 2.0, 0.9351941398892446},
    {8.0, 2.0, 0.9923659639173309},
    {40.0, 2.0, 0.9996877926639076},
    {-10000000000.0, 2.5, 7.193397190831748e-26},
    {-1000.0, 2.5, 2.2747463948307502e-08},
    {-40.0, 2.5, 7.097817145246693e-05},
    {-8.0, 2.5, 0.0038283220655217225},
    {-2.5, 2.5, 0.052284981539077686},
    {-1.0, 2.5, 0.20203051363913677},
    {-0.3, 2.5, 0.39367118574759863},
    {-1e-05, 2.5, 0.4999963819127598},
    {0.0, 2.5, 0.5},
    {0.2, 2.5, 0.5716951579854873},
    {1.0, 2.5, 0.7979694863608633},
    {2.5, 2.5, 0.9477150184609223},
    {8.0, 2.5, 0.9961716779344783},
    {40.0, 2.5, 0.9999290218285476},
    {-10000000000.0, 4.0, 3.0000000000000308e-40},
    {-1000.0, 4.0, 2.9999800001050074e-12},
    {-40.0, 4.0, 1.1670081613006347e-06},
    {-8.0, 4.0, 0.0006619484546085838},
    {-2.5, 4.0, 0.03338327240599406},
    {-1.0, 4.0, 0.1869504831500295},
    {-0.3, 4.0, 0.38956071413872984},
    {-1e-05, 4.0, 0.4999962500000001},
    {0.0, 4.0, 0.5},
    {0.2, 4.0, 0.5743814929315387},
    {1.0, 4.0, 0.8130495168499705},
    {2.5, 4.0, 0.966616727594006},
    {8.0, 4.0, 0.9993380515453913},
    {40.0, 4.0, 0.9999988329918387},
    {-10000000000.0, 30.0, 1.0364534652561783e-279},
    {-1000.0, 30.0, 1.0360017415558858e-69},
    {-40.0, 30.0, 6.863022597203181e-28},
    {-8.0, 30.0, 3.132911237850386e-09},
    {-2.5, 30.0, 0.009057824534033353},
    {-1.0, 30.0, 0.16265430771301492},
    {-0.3, 30.0, 0.3831230526421764},
    {-1e-05, 30.0, 0.4999960436781511},
    {0.0, 30.0, 0.5},
    {0.2, 30.0, 0.5785849214703377},
    {1.0, 30.0, 0.8373456922869851},
    {2.5, 30.0, 0.9909421754659666},
    {8.0, 30.0, 0.9999999968670887},
    {40.0, 30.0, 1.0},
    {-10000000000.0, 1000.0, 0.0},
    {-1000.0, 1000.0, 0.0},
    {-40.0, 1000.0, 5.239426077586736e-210},
    {-8.0, 1000.0, 1.7133307411957495e-15},
    {-2.5, 1000.0, 0.006289283900545397},
    {-1.0, 1000.0, 0.1587762090423363},
    {-0.3, 1000.0, 0.3821197520836221},
    {-1e-05, 1000.0, 0.49999601157442697},
    {0.0, 1000.0, 0.5},
    {0.2, 1000.0, 0.5792393778380119},
    {1.0, 1000.0, 0.8412237909576636},
    {2.5, 1000.0, 0.9937107160994546},
    {8.0, 1000.0, 0.9999999999999982},
    {40.0, 1000.0, 1.0},
    {-10000000000.0, 1000000.0, 0.0},
    {-1000.0, 1000000.0, 0.0},
    {-40.0, 1000000.0, 0.0},
    {-8.0, 1000000.0, 6.227531716601235e-16},
    {-2.5, 1000000.0, 0.006209744751081614},
    {-1.0, 1000000.0, 0.15865537491678905},
    {-0.3, 1000000.0, 0.3820886089894972},
    {-1e-05, 1000000.0, 0.49999601057819343},
    {0.0, 1000000.0, 0.5},
    {0.2, 1000000.0, 0.5792596891048856},
    {1.0, 1000000.0, 0.841344625083211},
    {2.5, 1000000.0, 0.9937902552489184},
    {8.0, 1000000.0, 0.9999999999999994},
    {40.0, 1000000.0, 1.0},
    {-10000000000.0, kInf, 0.0},
    {-1000.0, kInf, 0.0},
    {-40.0, kInf, 0.0},
    {-8.0, kInf, 6.22096057427174e-16},
    {-2.5, kInf, 0.006209665325776132},
    {-1.0, kInf, 0.15865525393145707},
    {-0.3, kInf, 0.3820885778110474},
    {-1e-05, kInf, 0.49999601057719606},
    {0.0, kInf, 0.5},
    {0.2, kInf, 0.579259709439103},
    {1.0, kInf, 0.8413447460685429},
    {2.5, kInf, 0.9937903346742238},
    {8.0, kInf, 0.9999999999999993},
    {40.0, kInf, 1.0},
    {-1e+100, 1.0, 3.1830988618379063e-101},
    {-1e+200, 1.0, 3.183098861837907e-201}, // 1 / (pi 1e200): SciPy underflows to 0 here
    {-50.0, 30.0, 9.357708829611422e-31},
    {-300.0, 10.0, 2.0827487617146278e-21},
    {-30.0, 1000.0, 7.687343722021657e-142},
    {-1e+20, 3.0, 1.1026577908435792e-60},
    {-7.0, 0.5, 0.121028958559905},
};

INSTANTIATE_TEST_SUITE_P(Scipy, StudentTCdfTable, ::testing::ValuesIn(kStudentTCdfTableCases));

TEST(StudentTCdf, IsSymmetricAndHandlesTheEdges) {
    for (const double df : {1.0, 3.0, 17.5, 400.0})
        for (const double t : {0.01, 0.7, 3.0, 25.0})
            EXPECT_NEAR(studentTCdf(t, df) + studentTCdf(-t, df), 1.0, 1e-15) << t << " " << df;
    EXPECT_EQ(studentTCdf(kInf, 3), 1.0);
    EXPECT_EQ(studentTCdf(-kInf, 3), 0.0);
    EXPECT_TRUE(std::isnan(studentTCdf(1.0, 0.0)));
    EXPECT_TRUE(std::isnan(studentTCdf(1.0, -2.0)));
    EXPECT_TRUE(std::isnan(studentTCdf(std::nan(""), 2.0)));
    // df = 1 is the Cauchy distribution: 1/2 + atan(t) / pi.
    const double pi = std::acos(-1.0);
    for (const double t : {-3.0, -0.5, 0.25, 2.0}) EXPECT_NEAR(studentTCdf(t, 1), 0.5 + std::atan(t) / pi, 1e-15);
}

// ---------------------------------------------------------------- Student t quantile

struct TQuantileCase {
    double p, df, t;
};

class StudentTQuantileTable : public ::testing::TestWithParam<TQuantileCase> {};

TEST_P(StudentTQuantileTable, MatchesTheReferenceAndInvertsTheCdf) {
    const auto& c = GetParam();
    const double q = studentTQuantile(c.p, c.df);
    EXPECT_TRUE(relativelyClose(q, c.t, 1e-13)) << "p = " << c.p << ", df = " << c.df;
    EXPECT_TRUE(relativelyClose(studentTCdf(q, c.df), c.p, 1e-12)) << "p = " << c.p << ", df = " << c.df;
}

const TQuantileCase kStudentTQuantileTableCases[] = {
    {1e-200, 1.0, -3.183098861837907e+199},
    {1e-20, 1.0, -3.1830988618379067e+19},
    {1e-08, 1.0, -31830988.618379056},
    {0.001, 1.0, -318.30883898555044},
    {0.025, 1.0, -12.706204736174705},
    {0.3, 1.0, -0.7265425280053609},
    {0.7, 1.0, 0.7265425280053607},
    {0.975, 1.0, 12.706204736174694},
    {0.999999, 1.0, 318309.88617359026},
    {1e-200, 2.0, -7.071067811865475e+99},
    {1e-20, 2.0, -7071067811.865476},
    {1e-08, 2.0, -7071.067705799457},
    {0.001, 2.0, -22.327124770119877},
    {0.025, 2.0, -4.302652729749464},
    {0.3, 2.0, -0.6172133998483676},
    {0.7, 2.0, 0.6172133998483674},
    {0.975, 2.0, 4.302652729749462},
    {0.999999, 2.0, 707.1057205157671},
    {1e-200, 4.0, -1.3160740129524924e+50},
    {1e-20, 4.0, -131607.4012825853},
    {1e-08, 4.0, -131.59473694062356},
    {0.001, 4.0, -7.1731822197823085},
    {0.025, 4.0, -2.7764451051977943},
    {0.3, 4.0, -0.5686490630497055},
    {0.7, 4.0, 0.5686490630497053},
    {0.975, 4.0, 2.7764451051977934},
    {0.999999, 4.0, 41.5778541501515},
    {1e-200, 30.0, -23290831.507991146},
    {1e-20, 30.0, -22.658878371940183},
    {1e-08, 30.0, -7.556534651885402},
    {0.001, 30.0, -3.385184866829305},
    {0.025, 30.0, -2.042272456301238},
    {0.3, 30.0, -0.5300190039065045},
    {0.7, 30.0, 0.5300190039065044},
    {0.975, 30.0, 2.0422724563012378},
    {0.999999, 30.0, 5.871117120408623},
    {1e-200, 1000.0, -38.61719445322675},
    {1e-20, 1000.0, -9.467044815255925},
    {1e-08, 1000.0, -5.657912337679106},
    {0.001, 1000.0, -3.098402163912923},
    {0.025, 1000.0, -1.9623390808264085},
    {0.3, 1000.0, -0.524567707309227},
    {0.7, 1000.0, 0.5245677073092267},
    {0.975, 1000.0, 1.962339080826408},
    {0.999999, 1000.0, 4.781608620452438},
    {1e-200, kInf, -30.20559417957964},
    {1e-20, kInf, -9.262340089798407},
    {1e-08, kInf, -5.612001244174789},
    {0.001, kInf, -3.0902323061678136},
    {0.025, kInf, -1.9599639845400543},
    {0.3, kInf, -0.5244005127080408},
    {0.7, kInf, 0.5244005127080407},
    {0.975, kInf, 1.9599639845400538},
    {0.999999, kInf, 4.753424308817087},
};

INSTANTIATE_TEST_SUITE_P(Mpmath, StudentTQuantileTable, ::testing::ValuesIn(kStudentTQuantileTableCases));

TEST(StudentTQuantile, HandlesTheEdges) {
    EXPECT_EQ(studentTQuantile(0.5, 4), 0.0);
    EXPECT_EQ(studentTQuantile(0.0, 4), -kInf);
    EXPECT_EQ(studentTQuantile(1.0, 4), kInf);
    EXPECT_TRUE(std::isnan(studentTQuantile(-0.1, 4)));
    EXPECT_TRUE(std::isnan(studentTQuantile(1.1, 4)));
    EXPECT_TRUE(std::isnan(studentTQuantile(0.3, 0)));
    // With df = 0.3 the 1e-300 quantile is about -1e1000: beyond double.
    EXPECT_EQ(studentTQuantile(1e-300, 0.3), -kInf);
    // The 0.975 quantile with 4 degrees of freedom, the CI factor for 5 seeds.
    EXPECT_NEAR(studentTQuantile(0.975, 4), 2.7764451051977987, 1e-13);
}

// ---------------------------------------------------------------- incomplete beta

struct BetaCase {
    double a, b, x, value;
};

class IncompleteBetaTable : public ::testing::TestWithParam<BetaCase> {};

TEST_P(IncompleteBetaTable, MatchesTheReference) {
    const auto& c = GetParam();
    EXPECT_TRUE(relativelyClose(regularizedIncompleteBeta(c.a, c.b, c.x), c.value, 1e-12))
        << "a = " << c.a << ", b = " << c.b << ", x = " << c.x;
}

const BetaCase kIncompleteBetaTableCases[] = {
    {0.5, 0.5, 0.3, 0.36901011956554536}, // scipy 1.5e-16
    {2.0, 3.0, 0.4, 0.5248}, // scipy 2.1e-16
    {1.0, 1.0, 0.7, 0.7}, // scipy 0.0e+00
    {10.0, 20.0, 0.2, 0.049263517304212516}, // scipy 1.4e-15
    {100.0, 200.0, 0.33, 0.4566181633339974}, // scipy 3.5e-14
    {5000.0, 5000.0, 0.5, 0.5}, // scipy 6.2e-12
    {5000.0, 5000.0, 0.49, 0.022742032324574547}, // scipy 7.1e-12
    {5000.0, 5000.0, 0.4999, 0.4920218856320855}, // scipy 6.7e-12
    {0.1, 50.0, 0.01, 0.9411645901311703}, // scipy 5.9e-15
    {500.0, 0.5, 0.99, 0.001527357879052989}, // scipy 3.0e-13
    {100000.0, 0.5, 0.99999, 0.1572986881624258}, // scipy 6.2e-11
    {30.0, 30.0, 0.9, 0.9999999999999969}, // scipy 0.0e+00
    {2.0, 3.0, 1e-05, 5.999920000300001e-10}, // scipy 0.0e+00
    {0.5, 15.0, 0.999, 1.0}, // scipy 1.1e-16
    {3.0, 0.2, 0.5, 0.016277863475379725}, // scipy 0.0e+00
    {10000.0, 20000.0, 0.3, 5.2631142566145316e-36}, // scipy 5.1e-11
};

INSTANTIATE_TEST_SUITE_P(Mpmath, IncompleteBetaTable, ::testing::ValuesIn(kIncompleteBetaTableCases));

TEST(IncompleteBeta, EdgesAndSymmetry) {
    EXPECT_EQ(regularizedIncompleteBeta(2, 3, 0), 0.0);
    EXPECT_EQ(regularizedIncompleteBeta(2, 3, 1), 1.0);
    EXPECT_TRUE(std::isnan(regularizedIncompleteBeta(0, 3, 0.5)));
    EXPECT_TRUE(std::isnan(regularizedIncompleteBeta(2, -1, 0.5)));
    EXPECT_TRUE(std::isnan(regularizedIncompleteBeta(2, 3, 1.5)));
    // I_x(a, b) = 1 - I_{1-x}(b, a); I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b.
    for (const double x : {0.1, 0.5, 0.8}) {
        EXPECT_NEAR(regularizedIncompleteBeta(3.5, 7, x) + regularizedIncompleteBeta(7, 3.5, 1 - x), 1.0, 1e-14);
        EXPECT_NEAR(regularizedIncompleteBeta(4, 1, x), std::pow(x, 4), 1e-15);
        EXPECT_NEAR(regularizedIncompleteBeta(1, 2.5, x), 1 - std::pow(1 - x, 2.5), 1e-15);
    }
}

// ---------------------------------------------------------------- paired t-test

struct TTestCase {
    std::vector<double> d;
    double mean, std, se, t, p;
    std::vector<double> ci; // low, high at 0.95, 0.90, 0.99
};

class PairedTTestTable : public ::testing::TestWithParam<TTestCase> {};

TEST_P(PairedTTestTable, MatchesScipy) {
    const auto& c = GetParam();
    const double levels[] = {0.95, 0.90, 0.99};
    for (int i = 0; i < 3; ++i) {
        const PairedTest r = pairedTest(c.d, levels[i]);
        const double scale = std::fabs(c.mean) + c.std;
        EXPECT_EQ(r.n, static_cast<int>(c.d.size()));
        EXPECT_EQ(r.level, levels[i]);
        EXPECT_NEAR(r.mean, c.mean, 1e-14 * scale);
        EXPECT_TRUE(relativelyClose(r.std, c.std, 1e-13));
        EXPECT_TRUE(relativelyClose(r.stdError, c.se, 1e-13));
        EXPECT_NEAR(r.tStatistic, c.t, 1e-12 * std::max(1.0, std::fabs(c.t)));
        EXPECT_TRUE(relativelyClose(r.tPValue, c.p, 1e-12));
        EXPECT_NEAR(r.ciLow, c.ci[2 * i], 1e-12 * scale) << "level " << levels[i];
        EXPECT_NEAR(r.ciHigh, c.ci[2 * i + 1], 1e-12 * scale) << "level " << levels[i];
        EXPECT_EQ(r.ciContainsZero(), c.ci[2 * i] <= 0 && 0 <= c.ci[2 * i + 1]);
    }
}

const TTestCase kPairedTTestTableCases[] = {
    {{0.4, -0.1, 0.3, 0.2, 0.5}, 0.26, 0.23021728866442676, 0.10295630140987, 2.525343242128887, 0.06498591034212063, {-0.02585251909870223, 0.5458525190987022, 0.04051293970729067, 0.4794870602927094, -0.21402057929434642, 0.7340205792943464}},
    {{-0.42, -0.31, -0.55, -0.18, -0.47}, -0.386, 0.14432601983010548, 0.0645445582524197, -5.980364734861738, 0.003929451058412211, {-0.5652044228270845, -0.2067955771729155, -0.5235991090852943, -0.2484008909147058, -0.6831692696235163, -0.08883073037648365}},
    {{1.0, 3.0}, 2.0, 1.4142135623730951, 1.0, 2.0, 0.2951672353008664, {-10.706204736174694, 14.706204736174694, -4.313751514675045, 8.313751514675044, -61.656741162871526, 65.65674116287153}},
    {{0.0366, -0.0553, 0.1449, -0.437, 0.1853, 0.0035, -0.1178, 0.1296, -0.4854, 0.0525}, -0.054310000000000004, 0.23339467027143337, 0.07380587518017187, -0.7358492784947087, 0.48055962168327837, {-0.22127048919541603, 0.11265048919541604, -0.18960450429878503, 0.08098450429878504, -0.2941669563388347, 0.1855469563388347}},
    {{-0.1963, 0.0319, 0.0385, -0.2356, -0.2366, -0.344, -0.2075, 0.0139, 0.1215, -0.0042, -0.043, -0.2235, -0.0108, -0.2131, -0.0021, -0.0905, 0.1212, -0.0095, 0.2238, -0.1316, 0.1012, -0.005, 0.2893, -0.4424, 0.1249, -0.2547, -0.2237, -0.0537, -0.3521, -0.2889}, -0.08342, 0.1798794201488971, 0.032841338682166744, -2.5400913405913657, 0.01669838301873667, {-0.1505880793600868, -0.01625192063991318, -0.13922160614240953, -0.02761839385759047, -0.1739434030011966, 0.007103403001196593}},
    {{5.0, -5.0, 0.0}, 0.0, 5.0, 2.886751345948129, 0.0, 1.0, {-12.420688558751651, 12.420688558751651, -8.429272304235248, 8.429272304235248, -28.65055446857501, 28.65055446857501}},
};

INSTANTIATE_TEST_SUITE_P(Scipy, PairedTTestTable, ::testing::ValuesIn(kPairedTTestTableCases));

TEST(PairedTTest, DifferencesOfTwoLossesMatchScipyTtestRel) {
    const std::vector<double> square = {97.7, 97.5, 97.9, 97.6, 97.8};
    const std::vector<double> ce = {97.6, 97.7, 97.5, 97.3, 97.65};
    std::vector<double> d;
    for (std::size_t i = 0; i < square.size(); ++i) d.push_back(square[i] - ce[i]);
    const PairedTest r = pairedTest(d);
    EXPECT_NEAR(r.tStatistic, 1.4638501094227887, 1e-11);
    EXPECT_NEAR(r.tPValue, 0.21707925294276448, 1e-12);
    EXPECT_TRUE(r.ciContainsZero());
}

TEST(PairedTTest, EqualDifferencesHaveZeroStdAndPZero) {
    const PairedTest r = pairedTest({0.3, 0.3, 0.3, 0.3, 0.3});
    EXPECT_EQ(r.mean, 0.3);
    EXPECT_EQ(r.std, 0.0);
    EXPECT_EQ(r.stdError, 0.0);
    EXPECT_EQ(r.ciLow, 0.3);
    EXPECT_EQ(r.ciHigh, 0.3);
    EXPECT_FALSE(r.ciContainsZero());
    EXPECT_EQ(r.tStatistic, kInf);
    EXPECT_EQ(r.tPValue, 0.0);
    EXPECT_TRUE(hasNote(r, "all 5 differences equal 0.3")) << allNotes(r);
    // Ties throughout: W+ = 15, and only "all positive" reaches it.
    EXPECT_EQ(r.wilcoxonStatistic, 15.0);
    EXPECT_EQ(r.wilcoxonPValue, 0.0625);

    const PairedTest negative = pairedTest({-2.0, -2.0, -2.0});
    EXPECT_EQ(negative.tStatistic, -kInf);
    EXPECT_EQ(negative.tPValue, 0.0);
}

TEST(PairedTTest, DifferencesEqualUpToRoundingNoiseCountAsEqual) {
    // The square loss gets one more of 90 test examples right on every seed: each difference
    // is 1/90, but (k + 1) / 90 - k / 90 differs in its last bits from one k to another.
    std::vector<double> d;
    for (const int k : {30, 35, 41, 44, 50}) d.push_back((k + 1) / 90.0 - k / 90.0);
    ASSERT_NE(d.front(), d.back());
    const PairedTest r = pairedTest(d);
    EXPECT_NEAR(r.mean, 1 / 90.0, 1e-15);
    EXPECT_EQ(r.std, 0.0);
    EXPECT_EQ(r.ciLow, r.mean);
    EXPECT_EQ(r.ciHigh, r.mean);
    EXPECT_EQ(r.tStatistic, kInf);
    EXPECT_EQ(r.tPValue, 0.0);
    EXPECT_TRUE(hasNote(r, "all 5 differences equal 0.0111111")) << allNotes(r);
    // The Wilcoxon test already counts them as one tie group.
    EXPECT_EQ(r.wilcoxonStatistic, 15.0);
    // Differences that merely lie close together are not equal.
    const PairedTest close = pairedTest({0.01, 0.01 + 1e-6, 0.01 - 1e-6});
    EXPECT_GT(close.std, 0.0);
    EXPECT_TRUE(std::isfinite(close.tStatistic));
}

TEST(PairedTTest, AllZeroDifferencesGivePOneAndNoWilcoxon) {
    const PairedTest r = pairedTest({0.0, 0.0, 0.0, 0.0, 0.0});
    EXPECT_EQ(r.mean, 0.0);
    EXPECT_EQ(r.std, 0.0);
    EXPECT_EQ(r.tStatistic, 0.0);
    EXPECT_EQ(r.tPValue, 1.0);
    EXPECT_TRUE(r.ciContainsZero());
    EXPECT_TRUE(hasNote(r, "all 5 differences are 0")) << allNotes(r);
    EXPECT_EQ(r.wilcoxonN, 0);
    EXPECT_TRUE(std::isnan(r.wilcoxonPValue));
    EXPECT_TRUE(std::isnan(r.wilcoxonMinPValue));
    EXPECT_TRUE(r.wilcoxonCannotReachLevel);
    EXPECT_TRUE(hasNote(r, "no Wilcoxon test")) << allNotes(r);
}

TEST(PairedTTest, OneDifferenceGivesNoTest) {
    const PairedTest r = pairedTest({0.4});
    EXPECT_EQ(r.n, 1);
    EXPECT_EQ(r.mean, 0.4);
    EXPECT_TRUE(std::isnan(r.std));
    EXPECT_TRUE(std::isnan(r.stdError));
    EXPECT_TRUE(std::isnan(r.ciLow));
    EXPECT_TRUE(std::isnan(r.ciHigh));
    EXPECT_FALSE(r.ciContainsZero());
    EXPECT_TRUE(std::isnan(r.tStatistic));
    EXPECT_TRUE(std::isnan(r.tPValue));
    EXPECT_TRUE(hasNote(r, "n = 1: the standard deviation, the confidence interval and the t-test need"))
        << allNotes(r);
    // One sign flip either way: W+ is 1 or 0, p = 1.
    EXPECT_EQ(r.wilcoxonN, 1);
    EXPECT_EQ(r.wilcoxonStatistic, 1.0);
    EXPECT_EQ(r.wilcoxonPValue, 1.0);
    EXPECT_EQ(r.wilcoxonMinPValue, 1.0);
    EXPECT_TRUE(r.wilcoxonCannotReachLevel);
    EXPECT_TRUE(hasNote(r, "n = 1: the smallest possible Wilcoxon p is 1, so p < 0.05 cannot occur"))
        << allNotes(r);
}

TEST(PairedTTest, NoDifferencesGiveNoStatistics) {
    const PairedTest r = pairedTest({});
    EXPECT_EQ(r.n, 0);
    EXPECT_TRUE(std::isnan(r.mean));
    EXPECT_TRUE(std::isnan(r.std));
    EXPECT_TRUE(std::isnan(r.tPValue));
    EXPECT_TRUE(std::isnan(r.wilcoxonPValue));
    EXPECT_TRUE(std::isnan(r.wilcoxonStatistic));
    EXPECT_EQ(r.wilcoxonN, 0);
    EXPECT_TRUE(r.wilcoxonCannotReachLevel);
    EXPECT_FALSE(r.ciContainsZero());
    EXPECT_TRUE(hasNote(r, "no differences")) << allNotes(r);
}

TEST(PairedTTest, NonFiniteDifferencesAreLeftOutWithANote) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const PairedTest withGap = pairedTest({0.4, nan, -0.1, 0.3, 0.2, 0.5});
    const PairedTest plain = pairedTest({0.4, -0.1, 0.3, 0.2, 0.5});
    EXPECT_EQ(withGap.n, 5);
    EXPECT_EQ(withGap.tPValue, plain.tPValue);
    EXPECT_EQ(withGap.wilcoxonPValue, plain.wilcoxonPValue);
    EXPECT_TRUE(hasNote(withGap, "1 difference is not a finite number")) << allNotes(withGap);
    EXPECT_FALSE(hasNote(plain, "finite")) << allNotes(plain);
}

TEST(PairedTTest, RejectsALevelOutsideZeroOne) {
    EXPECT_THROW(pairedTest({1, 2, 3}, 1.0), losslab::Error);
    EXPECT_THROW(pairedTest({1, 2, 3}, 0.0), losslab::Error);
    EXPECT_THROW(pairedTest({1, 2, 3}, 95), losslab::Error);
    EXPECT_THROW(pairedTest({1, 2, 3}, std::nan("")), losslab::Error);
}

// ---------------------------------------------------------------- Wilcoxon

struct WilcoxonCase {
    std::vector<double> d;
    double wPlus, p;
};

class WilcoxonWithoutTiesTable : public ::testing::TestWithParam<WilcoxonCase> {};

TEST_P(WilcoxonWithoutTiesTable, MatchesScipyExact) {
    const auto& c = GetParam();
    double w = -1;
    int n = -1;
    EXPECT_TRUE(relativelyClose(wilcoxonExactTwoSidedP(c.d, &w, &n), c.p, 1e-12)) << "n = " << c.d.size();
    EXPECT_EQ(w, c.wPlus);
    EXPECT_EQ(n, static_cast<int>(c.d.size()));
    const PairedTest r = pairedTest(c.d);
    EXPECT_TRUE(relativelyClose(r.wilcoxonPValue, c.p, 1e-12));
    EXPECT_EQ(r.wilcoxonStatistic, c.wPlus);
    EXPECT_EQ(r.wilcoxonN, static_cast<int>(c.d.size()));
    EXPECT_EQ(r.wilcoxonMinPValue, std::ldexp(1.0, 1 - r.wilcoxonN));
}

const WilcoxonCase kWilcoxonWithoutTiesTableCases[] = {
    {{0.194, 0.378, -1.204, -0.174, 0.554}, 9.0, 0.8125},
    {{-0.132, -0.662, -0.004, -0.513, 1.173, -0.809}, 6.0, 0.4375},
    {{0.409, -0.14, 1.205, -0.622, 1.227, -0.845, -1.017}, 15.0, 0.9375},
    {{0.152, 0.792, -0.821, 0.196, 0.696, 0.664, 1.576, 1.484}, 30.0, 0.109375},
    {{0.333, 0.913, 0.94, -1.109, 2.185, -0.049, -0.606, 0.6, -0.489}, 28.0, 0.5703125},
    {{0.977, -0.851, 1.075, -0.914, 0.726, 0.137, -0.151, 0.503, -0.225, -0.422}, 31.0, 0.76953125},
    {{1.095, 2.631, -0.298, 1.855, 1.782, -0.42, 0.89, 1.224, -0.211, 1.779, 1.578}, 60.0, 0.013671875},
    {{1.698, 0.39, 0.946, 1.812, 0.203, -0.5, -1.451, 0.286, -1.267, 1.098, 0.147, 0.811}, 54.0, 0.26611328125},
    {{0.513, 1.588, -0.106, 0.4, 1.75, -0.908, 0.543, 1.325, -0.714, -0.35, -0.9, 1.531, 0.161}, 63.0, 0.243896484375},
    {{0.385, -0.713, -0.364, 1.627, 0.511, 0.299, 1.492, -0.206, 2.313, 0.332, 0.187, 0.435, 0.737, 1.401}, 89.0, 0.020263671875},
    {{-0.699, -0.824, 0.038, 0.339, 0.877, -0.477, 0.967, -1.02, 1.386, -1.092, -0.086, 0.195, 1.013, 1.46, 0.049}, 71.0, 0.5614013671875},
    {{2.246, -0.47, 0.677, 0.113, 0.922, -0.602, -0.748, 1.633, 1.414, 0.911, -0.352, 0.942, 0.797, 1.583, 0.583, -1.265}, 107.0, 0.0443115234375},
    {{0.484, 0.673, 1.492, 0.452, -0.358, 1.85, 1.086, -0.397, 0.036, 1.619, -0.649, 1.668, 0.723, 0.548, 1.566, 0.276, 0.756}, 138.0, 0.0020904541015625},
    {{1.635, -0.845, 1.822, -1.686, -0.856, 0.901, -0.663, -0.318, 0.79, 0.958, 0.49, -0.541, 0.628, 0.154, 1.179, 0.39, -0.796, -0.125}, 103.0, 0.468292236328125},
    {{-1.202, 0.979, 0.797, 0.369, -0.996, -0.039, 1.032, 0.166, 0.47, 1.495, 0.983, -1.249, 0.717, -0.586, -1.875, 1.51, -1.136, 0.034, 1.599}, 110.0, 0.5677604675292969},
    {{1.403, 0.638, -0.188, 0.996, 0.632, 1.521, 1.088, 1.429, -0.804, -0.159, 0.86, 1.069, 0.076, -0.002, 0.673, 0.825, 2.664, 0.316, 1.237, -1.013}, 180.0, 0.00365447998046875},
    {{0.073, 0.518, 0.399, 1.269, 2.153, -0.792, -0.641, -0.614, 0.112, -0.435, 1.075, 0.589, -0.194, 0.295, 0.29, -0.456, 0.046, -1.774, 0.187, -0.798, 0.271, 1.274, 0.492, -0.389, 0.033, -0.618, -1.787, 0.181, 0.581, 0.415, 1.149, 0.021, -0.837, -1.183, -2.074, 0.453, 1.346, 1.096, -1.059, 1.508, -2.222, -1.412, -1.771, 0.743, -1.654, 0.055, -1.399, -0.555, 1.047, -1.882, 3.369, -0.529, -0.634, 0.661, -0.64, 0.954, -0.081, -0.887, -0.051, -1.123}, 808.0, 0.4357849703234319},
    {{-0.023, 2.235, -0.332, 0.368, -1.43, -0.286, 0.804, 0.004, -0.821, -0.622, 1.142, -0.239, -0.278, -1.236, 0.066, 0.054, -0.822, 0.857, -0.691, -0.528, -0.954, -0.657, -0.331, 0.655, 1.579, 1.214, -0.185, -0.928, -0.367, -0.573, 0.364, 0.163, 1.092, 2.086, -0.639, 1.539, 1.675, 0.862, 1.091, -1.2, -0.016, -1.155, 1.761, -0.02, -0.022, 1.528, -0.358, 1.396, 0.52, -0.952, -0.849, -1.293, 0.675, 0.848, 0.419, 0.889, 0.302, -0.574, -1.957, 2.0, 1.166, 1.691, 1.093, 0.38, 0.247, -0.665, 1.046, 0.405, 0.634, 1.423, -2.173, 0.878, -1.189, 0.245, 0.524, 0.757, 0.299, 0.236, 0.344, 1.366, 0.12, 1.573, 0.819, -0.386, 1.345, 2.39, -0.349, 2.491, -0.112, 0.758, -0.473, 1.171, -0.102, -1.474, 0.094, 0.977, -0.157, 1.412, -0.26, -1.234}, 3193.0, 0.021273729319663485},
    {{1.0, 2.0, 3.0, 4.0, 5.0}, 15.0, 0.0625},
    {{-1.0, -2.0, -3.0, -4.0, -5.0}, 0.0, 0.0625},
    {{1.0, -2.0, 3.0, -4.0, 5.0}, 9.0, 0.8125},
    {{1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, 21.0, 0.03125},
};

INSTANTIATE_TEST_SUITE_P(Scipy, WilcoxonWithoutTiesTable, ::testing::ValuesIn(kWilcoxonWithoutTiesTableCases));

class WilcoxonTiesAndZerosTable : public ::testing::TestWithParam<WilcoxonCase> {};

TEST_P(WilcoxonTiesAndZerosTable, MatchesBruteForceOverAllSignFlips) {
    const auto& c = GetParam();
    double w = -1;
    const double p = wilcoxonExactTwoSidedP(c.d, &w);
    EXPECT_TRUE(relativelyClose(p, c.p, 1e-12));
    EXPECT_EQ(w, c.wPlus);
}

const WilcoxonCase kWilcoxonTiesAndZerosTableCases[] = {
    {{1.0, 1.0, 2.0, -2.0, 3.0}, 11.5, 0.375}, // n non-zero 5
    {{0.5, -0.5, 0.5, 1.0, 1.5, -1.5, 2.0, 2.0}, 28.5, 0.171875}, // n non-zero 8
    {{0.0, 1.0, -2.0, 3.0, 0.0, 4.0, 5.0}, 13.0, 0.1875}, // n non-zero 5
    {{0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0}, 15.0, 0.0625}, // n non-zero 5
    {{2.0, 2.0, 2.0, 2.0, 2.0, -2.0}, 17.5, 0.21875}, // n non-zero 6
    {{0.25, 0.25, -0.75, 1.0, 1.0, 1.0, 1.5, 2.0, -2.0, 3.0, 3.0, 3.5, 4.0, -4.5, 5.0, 5.0}, 110.5, 0.02655029296875}, // n non-zero 16
    {{-1.0, 0.0, 2.0, 2.0, 3.0, -3.0, 3.0, 4.0, 4.0, 4.0, 5.0, 6.0, -6.0, 7.0}, 73.5, 0.04833984375}, // n non-zero 13
};

INSTANTIATE_TEST_SUITE_P(BruteForce, WilcoxonTiesAndZerosTable, ::testing::ValuesIn(kWilcoxonTiesAndZerosTableCases));

TEST(Wilcoxon, FiveSeedsCannotReachPBelow005AndSaySo) {
    const PairedTest r = pairedTest({0.4, -0.1, 0.3, 0.2, 0.5});
    EXPECT_EQ(r.wilcoxonN, 5);
    EXPECT_EQ(r.wilcoxonMinPValue, 0.0625);
    EXPECT_TRUE(r.wilcoxonCannotReachLevel);
    EXPECT_TRUE(hasNote(r, "n = 5: the smallest possible Wilcoxon p is 0.0625, so p < 0.05 cannot occur"))
        << allNotes(r);
}

TEST(Wilcoxon, AllPositiveFiveSeedsGiveTheSmallestP) {
    const PairedTest r = pairedTest({0.1, 0.25, 0.3, 0.7, 1.2});
    EXPECT_EQ(r.wilcoxonStatistic, 15.0);
    EXPECT_EQ(r.wilcoxonPValue, 0.0625);
    EXPECT_EQ(r.wilcoxonPValue, r.wilcoxonMinPValue);
    const PairedTest negative = pairedTest({-0.1, -0.25, -0.3, -0.7, -1.2});
    EXPECT_EQ(negative.wilcoxonStatistic, 0.0);
    EXPECT_EQ(negative.wilcoxonPValue, 0.0625);
}

TEST(Wilcoxon, SixSeedsCanReachPBelow005WithoutANote) {
    const PairedTest r = pairedTest({0.1, 0.25, 0.3, 0.7, 1.2, 0.05});
    EXPECT_EQ(r.wilcoxonMinPValue, 0.03125);
    EXPECT_EQ(r.wilcoxonPValue, 0.03125);
    EXPECT_FALSE(r.wilcoxonCannotReachLevel);
    EXPECT_FALSE(hasNote(r, "cannot occur")) << allNotes(r);
}

TEST(Wilcoxon, TheThresholdFollowsTheLevel) {
    // Level 0.90: p < 0.1 is reachable with 5 non-zero differences (0.0625), not with 4 (0.125).
    EXPECT_FALSE(pairedTest({1, 2, 3, 4, 5}, 0.90).wilcoxonCannotReachLevel);
    const PairedTest four = pairedTest({1, 2, 3, 4}, 0.90);
    EXPECT_TRUE(four.wilcoxonCannotReachLevel);
    EXPECT_TRUE(hasNote(four, "n = 4: the smallest possible Wilcoxon p is 0.125, so p < 0.1 cannot occur"))
        << allNotes(four);
}

TEST(Wilcoxon, ZerosAreDroppedAndCounted) {
    // Seven seeds, two without a difference: the Wilcoxon test runs on five.
    const PairedTest r = pairedTest({0.0, 1.0, -2.0, 3.0, 0.0, 4.0, 5.0});
    EXPECT_EQ(r.n, 7);
    EXPECT_EQ(r.wilcoxonN, 5);
    EXPECT_EQ(r.wilcoxonStatistic, 13.0);
    EXPECT_EQ(r.wilcoxonPValue, 0.1875);
    EXPECT_EQ(r.wilcoxonMinPValue, 0.0625);
    EXPECT_TRUE(hasNote(r, "2 zero differences left out of the Wilcoxon test (n = 5 remain)")) << allNotes(r);
    EXPECT_TRUE(hasNote(r, "n = 5: the smallest possible Wilcoxon p is 0.0625")) << allNotes(r);
}

TEST(Wilcoxon, TiesGetANote) {
    const PairedTest tied = pairedTest({1.0, 1.0, 2.0, -2.0, 3.0});
    EXPECT_TRUE(hasNote(tied, "4 differences share their absolute value")) << allNotes(tied);
    EXPECT_FALSE(hasNote(pairedTest({1.0, 2.0, 3.0}), "share")) << "no ties, no note";
}

TEST(Wilcoxon, RoundingNoiseDoesNotBreakATie) {
    // 0.8 - 0.7 and 0.3 - 0.2 differ in the last bits; as accuracy differences they are equal.
    ASSERT_NE(0.8 - 0.7, 0.3 - 0.2);
    double wNoisy = 0, wExact = 0;
    const double pNoisy = wilcoxonExactTwoSidedP({0.8 - 0.7, -(0.3 - 0.2), 0.5, 0.6, 0.7}, &wNoisy);
    const double pExact = wilcoxonExactTwoSidedP({0.1, -0.1, 0.5, 0.6, 0.7}, &wExact);
    EXPECT_EQ(wNoisy, 13.5);
    EXPECT_EQ(wNoisy, wExact);
    EXPECT_EQ(pNoisy, pExact);
}

TEST(Wilcoxon, SixtyAllPositiveDifferencesGiveTwoToTheMinus59) {
    std::vector<double> d;
    for (int i = 1; i <= 60; ++i) d.push_back(0.01 * i);
    const PairedTest r = pairedTest(d);
    EXPECT_EQ(r.wilcoxonN, 60);
    EXPECT_EQ(r.wilcoxonStatistic, 1830.0);
    EXPECT_TRUE(relativelyClose(r.wilcoxonPValue, std::ldexp(1.0, -59), 1e-14));
    EXPECT_EQ(r.wilcoxonMinPValue, std::ldexp(1.0, -59));
    // Flip the sign of the smallest one: W+ = 1829, and two of 2^60 sign patterns (rank 1
    // negative, or all positive) reach it.
    d[0] = -d[0];
    EXPECT_TRUE(relativelyClose(wilcoxonExactTwoSidedP(d), std::ldexp(1.0, -58), 1e-14));
}

TEST(Wilcoxon, NothingLeftGivesNaN) {
    int n = -1;
    double w = 0;
    EXPECT_TRUE(std::isnan(wilcoxonExactTwoSidedP({0.0, 0.0}, &w, &n)));
    EXPECT_EQ(n, 0);
    EXPECT_TRUE(std::isnan(w));
    EXPECT_TRUE(std::isnan(wilcoxonExactTwoSidedP({})));
}

} // namespace
