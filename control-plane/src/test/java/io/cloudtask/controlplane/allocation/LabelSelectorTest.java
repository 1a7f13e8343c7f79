package io.cloudtask.controlplane.allocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LabelSelectorTest {

    @Test
    void requiresEveryRequirementToHold() {
        LabelSelector selector = LabelSelector.parse("os=windows, zone=a");
        assertThat(selector.matches(Map.of("os", "windows", "zone", "a", "rack", "7"))).isTrue();
        assertThat(selector.matches(Map.of("os", "windows", "zone", "b"))).isFalse();
        assertThat(selector.matches(Map.of("os", "windows"))).isFalse();
    }

    @Test
    void notEqualsHoldsWhenTheLabelIsMissingToo() {
        LabelSelector selector = LabelSelector.parse("zone!=a");
        assertThat(selector.matches(Map.of("zone", "b"))).isTrue();
        assertThat(selector.matches(Map.of())).isTrue();
        assertThat(selector.matches(Map.of("zone", "a"))).isFalse();
    }

    @Test
    void aBareKeyRequiresTheLabelAndABangForbidsIt() {
        assertThat(LabelSelector.parse("gpu").matches(Map.of("gpu", "nvidia"))).isTrue();
        assertThat(LabelSelector.parse("gpu").matches(Map.of())).isFalse();
        assertThat(LabelSelector.parse("!gpu").matches(Map.of())).isTrue();
        assertThat(LabelSelector.parse("!gpu").matches(Map.of("gpu", "nvidia"))).isFalse();
    }

    @Test
    void theSameRequirementsInAnotherOrderAreTheSameSelector() {
        LabelSelector one = LabelSelector.parse("zone=a,os==windows,zone=a,!gpu");
        LabelSelector other = LabelSelector.parse(" !gpu , os=windows,zone=a");
        assertThat(one).isEqualTo(other);
        assertThat(one.toString()).isEqualTo("!gpu,os=windows,zone=a");
        assertThat(LabelSelector.parse(one.toString())).isEqualTo(one);
    }

    @Test
    void blankTextIsTheEmptySelectorThatMatchesEverything() {
        assertThat(LabelSelector.parse(" ").isEmpty()).isTrue();
        assertThat(LabelSelector.parse("").matches(Map.of("any", "thing"))).isTrue();
    }

    @Test
    void namesTheMalformedRequirementAndWhatToDoAboutIt() {
        assertThatIllegalArgumentException().isThrownBy(() -> LabelSelector.parse("os=windows,,zone=a"))
                .withMessage("label selector 'os=windows,,zone=a': requirement 2 '' is empty;"
                        + " separate requirements with single commas");
        assertThatIllegalArgumentException().isThrownBy(() -> LabelSelector.parse("os="))
                .withMessageStartingWith("label selector 'os=': requirement 1 'os=' has an invalid value ''")
                .withMessageEndingWith("(to require that a label is absent, write '!os')");
        assertThatIllegalArgumentException().isThrownBy(() -> LabelSelector.parse("=linux"))
                .withMessageStartingWith("label selector '=linux': requirement 1 '=linux' has an invalid key ''");
        assertThatIllegalArgumentException().isThrownBy(() -> LabelSelector.parse("zone in (a,b)"))
                .withMessageContaining("has an invalid key 'zone in (a'");
    }

    @Test
    void placementsCheckTheirShape() {
        assertThatIllegalArgumentException().isThrownBy(() -> TaskPlacement.named(List.of()))
                .withMessageContaining("needs at least one agent id or host name");
        assertThatIllegalArgumentException().isThrownBy(() -> TaskPlacement.labels(""))
                .withMessageContaining("use ANY for every agent");
        assertThat(TaskPlacement.named(List.of("b", "a", "b"))).isEqualTo(TaskPlacement.named(List.of("a", "b")));
        assertThat(TaskPlacement.broadcast("").admits(AgentState.of("x"))).isTrue();
    }
}
