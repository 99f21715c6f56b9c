from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("shop", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Coupon",
            fields=[
                ("code", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("description", models.TextField(blank=True)),
            ],
        ),
    ]
