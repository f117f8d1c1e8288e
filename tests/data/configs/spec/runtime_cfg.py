checkpoint_interval = 10
