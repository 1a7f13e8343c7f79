package io.cloudtask.agent;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AgentMainTest {
    private String before;

    @BeforeEach
    void saveAllocatorProperty() {
        before = System.getProperty(AgentMain.NETTY_ALLOCATOR);
    }

    @AfterEach
    void restoreAllocatorProperty() {
        if (before == null) {
            System.clearProperty(AgentMain.NETTY_ALLOCATOR);
        } else {
            System.setProperty(AgentMain.NETTY_ALLOCATOR, before);
        }
    }

    @Test
    void choosesUnpooledNettyBuffersByDefault() {
        System.clearProperty(AgentMain.NETTY_ALLOCATOR);

        AgentMain.preferUnpooledNettyBuffers();

        assertThat(System.getProperty("io.grpc.netty.shaded.io.netty.allocator.type")).isEqualTo("unpooled");
    }

    @Test
    void keepsAnOperatorsNettyAllocatorChoice() {
        System.setProperty(AgentMain.NETTY_ALLOCATOR, "pooled");

        AgentMain.preferUnpooledNettyBuffers();

        assertThat(System.getProperty(AgentMain.NETTY_ALLOCATOR)).isEqualTo("pooled");
    }
}
