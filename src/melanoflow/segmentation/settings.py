"""Which segmentation settings each job reads. Kept free of torch so that the workflow can read them when
it plans the DAG."""

# Settings that define a training run; a resume file made with other values is not resumed.
TRAINING_KEYS = ("seed", "input_size", "width", "batch_size", "learning_rate", "betas", "augment", "mixed_precision",
                 "loss", "schedule", "threshold")
# What the training job reads of the config's segmentation section: the above, the epoch count, the device.
TRAINING_JOB_KEYS = ("device", "epochs", *(key for key in TRAINING_KEYS if key != "seed"))
# What mask prediction reads (besides the device, which the job also reads).
PREDICTION_KEYS = ("threshold", "largest_component", "predict_batch_size", "mixed_precision")
